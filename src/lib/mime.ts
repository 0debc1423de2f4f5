/**
 * Byte-preserving edits of a raw MIME message's header block (RFC 5322): find a header, drop
 * headers, add headers. Everything outside the edited lines stays byte for byte as submitted, so
 * DKIM-signed bodies and exotic encodings survive (`toCrlf` only changes line endings, which SMTP
 * relaying changes anyway). latin1 maps bytes 1:1 to code units.
 */

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Unfolded value, trimmed. */
  value: string;
  /** The field's bytes including continuation lines and line endings (latin1). */
  raw: string;
}

/**
 * Where the header block ends (the blank line and body follow): a message that starts with a blank
 * line has no header block, as every MIME parser and MTA reads it.
 */
function headerEnd(text: string): number {
  if (text.startsWith("\r\n") || text.startsWith("\n")) return 0;
  const crlf = text.indexOf("\r\n\r\n");
  const lf = text.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 2;
  if (lf >= 0) return lf + 1;
  return text.length;
}

/** Bytes and physical lines (continuations included) of the header block, read before parsing it. */
export function headerBlockSize(raw: Buffer): { bytes: number; lines: number } {
  const text = raw.toString("latin1");
  const block = text.slice(0, headerEnd(text));
  let lines = 0;
  for (let at = block.indexOf("\n"); at >= 0; at = block.indexOf("\n", at + 1)) lines++;
  return { bytes: block.length, lines: block.endsWith("\n") || !block ? lines : lines + 1 };
}

const BARE_CR_OR_LF = /\r(?!\n)|(?<!\r)\n/;

/**
 * The message with every bare CR and bare LF turned into CRLF — what nodemailer's DATA stream does
 * to the message on relay, so checks on the result see the bytes the next hop will get.
 */
export function toCrlf(raw: Buffer): Buffer {
  const text = raw.toString("latin1");
  return BARE_CR_OR_LF.test(text) ? Buffer.from(text.replace(/\r\n|\r|\n/g, "\r\n"), "latin1") : raw;
}

/** Splits a message into its header fields and the rest (blank line + body, kept verbatim). */
export function parseHeaderBlock(raw: Buffer): { fields: HeaderField[]; rest: string } {
  const text = raw.toString("latin1");
  const end = headerEnd(text);
  const block = text.slice(0, end);
  const fields: HeaderField[] = [];
  for (const line of block.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    if ((line[0] === " " || line[0] === "\t") && fields.length > 0) {
      const last = fields[fields.length - 1];
      last.raw += line;
      last.value = (last.value + " " + line.trim()).trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim(), raw: line });
  }
  return { fields, rest: text.slice(end) };
}

/** First value of header `name` (case-insensitive), unfolded; null when absent. */
export function headerValue(fields: readonly HeaderField[], name: string): string | null {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value ?? null;
}

/**
 * Rebuilds the message without the fields named in `drop` and with `add` (name → value) placed
 * first. The line ending of added fields follows the message's own.
 */
export function rewriteHeaders(raw: Buffer, drop: readonly string[], add: readonly [string, string][] = []): Buffer {
  const { fields, rest } = parseHeaderBlock(raw);
  const dropped = new Set(drop.map((d) => d.toLowerCase()));
  const eol = raw.includes("\r\n") ? "\r\n" : "\n";
  const added = add.map(([name, value]) => `${name}: ${value}${eol}`).join("");
  const kept = fields.filter((f) => !dropped.has(f.name.toLowerCase())).map((f) => (f.raw.endsWith("\n") ? f.raw : f.raw + eol));
  return Buffer.from(added + kept.join("") + rest, "latin1");
}
