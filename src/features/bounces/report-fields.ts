/**
 * The machine-readable parts of bounce and complaint reports: the header-block format shared by
 * `message/delivery-status` (RFC 3464 §2) and `message/feedback-report` (RFC 5965 §3) — blocks
 * of `Name: value` fields separated by blank lines, continuation lines indented. Bounded: a report
 * is read up to MAX_REPORT_BYTES and MAX_BLOCKS blocks, whatever the sender put in it.
 */

export const MAX_REPORT_BYTES = 64 * 1024;
export const MAX_BLOCKS = 100;

/** Field names lower-cased; the first occurrence of a name wins. */
export type Fields = Map<string, string>;

/** The field blocks of a report part: for a DSN the per-message block, then one per recipient. */
export function parseFieldBlocks(text: string): Fields[] {
  const blocks: Fields[] = [];
  let current: Fields | null = null;
  let last: string | null = null;
  for (const line of text.slice(0, MAX_REPORT_BYTES).split(/\r?\n/)) {
    if (line.trim() === "") {
      if (current) blocks.push(current);
      if (blocks.length >= MAX_BLOCKS) return blocks;
      current = null;
      last = null;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      // A folded field goes on; an indented line with nothing before it is noise.
      if (current && last) current.set(last, `${current.get(last)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    current ??= new Map();
    if (!current.has(name)) {
      current.set(name, line.slice(colon + 1).trim());
      last = name;
    } else last = null;
  }
  if (current && blocks.length < MAX_BLOCKS) blocks.push(current);
  return blocks;
}

/** The address of a typed address field (`rfc822; ada@example.org`, `<ada@example.org>`), or null. */
export function addressOf(value: string | undefined): string | null {
  if (!value) return null;
  const typed = /^\s*[A-Za-z0-9-]+\s*;\s*(.*)$/.exec(value);
  const address = (typed ? typed[1]! : value).trim().replace(/^<|>$/g, "").trim();
  return /^[^\s@<>]+@[^\s@<>]+$/.test(address) ? address : null;
}

/** The RFC 3463 status code in a field (`5.1.1`, `4.2.2 (mailbox full)`), or null. */
export function statusCodeOf(value: string | undefined): string | null {
  const m = value ? /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(value) : null;
  return m ? m[0] : null;
}
