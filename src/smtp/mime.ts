/**
 * Byte-preserving edits of a raw MIME message's header block (RFC 5322): find a header, drop
 * headers, add headers. Everything outside the edited lines stays byte for byte as submitted, so
 * DKIM-signed bodies and exotic encodings survive. latin1 maps bytes 1:1 to code units.
 */

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Unfolded value, trimmed. */
  value: string;
  /** The field's bytes including continuation lines and line endings (latin1). */
  raw: string;
}

/** Index of the blank line ending the header block (-1 when the message is headers only). */
function headerEnd(text: string): { end: number; sep: number } {
  const crlf = text.indexOf("\r\n\r\n");
  const lf = text.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf + 2, sep: 2 };
  if (lf >= 0) return { end: lf + 1, sep: 1 };
  return { end: text.length, sep: 0 };
}

/** Splits a message into its header fields and the rest (blank line + body, kept verbatim). */
export function parseHeaderBlock(raw: Buffer): { fields: HeaderField[]; rest: string } {
  const text = raw.toString("latin1");
  const { end } = headerEnd(text);
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
