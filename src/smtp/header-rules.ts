/**
 * What the header block of an SMTP submission must satisfy (docs/api-reference.md §17), checked on the message
 * exactly as it will be relayed: after `toCrlf` (the relay's line endings) and through
 * `parseHeaderBlock` (the split `rewriteHeaders` keeps), so the check and the next hop read the
 * same header fields. A header another parser could read as a second address is refused, not guessed at.
 */
import addressparser from "nodemailer/lib/addressparser";
import { emailDomain } from "@/lib/email";
import { headerBlockSize, type HeaderField } from "@/lib/mime";
import { Replies, SmtpReply } from "./replies";

/**
 * Header block limits. Well above real mail (a few dozen lines, a few KiB; Postfix keeps 100 KiB),
 * and they keep the MIME parser far from its own 1 MiB header limit, whose error used to read as a
 * temporary failure the client retried forever.
 */
export const MAX_HEADER_LINES = 1000;
export const MAX_HEADER_BYTES = 64 * 1024;

/** @throws SmtpReply 552 5.3.4 (permanent) when the header block is over a limit. */
export function checkHeaderSize(message: Buffer): void {
  const { bytes, lines } = headerBlockSize(message);
  if (lines > MAX_HEADER_LINES || bytes > MAX_HEADER_BYTES) {
    throw new SmtpReply(552, `5.3.4 Message header exceeds the limit of ${MAX_HEADER_LINES} lines and ${MAX_HEADER_BYTES / 1024} KiB`);
  }
}

/**
 * An address without quoting or specials on either side of its one '@' (a quoted local part could
 * hide another '@'). Looser than isEmail on the domain: `noreply@localhost` is a valid sender.
 */
const PLAIN_ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;

/**
 * '@' signs outside quoted strings and comments. A mailbox has exactly one: RFC 5322 (§3.2.3,
 * §3.4) allows '@' in a display name only quoted, so `ceo@bank.example <a@own.example>` or
 * `a@own.example ceo@bank.example` hold two addresses for some reader and are refused.
 */
function bareAtSigns(value: string): number {
  let count = 0;
  let comment = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && (quoted || comment > 0)) i++;
    else if (quoted) quoted = c !== '"';
    else if (c === "(") comment++;
    else if (c === ")" && comment > 0) comment--;
    else if (comment > 0) continue;
    else if (c === '"') quoted = true;
    else if (c === "@") count++;
  }
  return count;
}

/**
 * The address of the one mailbox in header `name`; null when the header is absent or blank.
 * A display name may say anything (quoted, in a comment, an encoded word): only the address counts.
 * @throws SmtpReply 553 when the header is repeated, or holds a list, a group, or no valid address.
 */
function soleMailbox(fields: readonly HeaderField[], name: "From" | "Sender"): string | null {
  const values = fields.filter((f) => f.name.toLowerCase() === name.toLowerCase()).map((f) => f.value);
  if (values.length === 0 || (values.length === 1 && !values[0])) return null;
  const parsed = values.length === 1 ? addressparser(values[0]) : [];
  const address = parsed.length === 1 ? (parsed[0].address ?? "") : "";
  if (!PLAIN_ADDRESS.test(address) || bareAtSigns(values[0]) !== 1) throw name === "From" ? Replies.singleFrom() : Replies.singleSender();
  return address;
}

/**
 * From: exactly one header with exactly one mailbox; Sender: at most one, with one mailbox. Both
 * in `domain` unless it is null (a capture-only channel may use any domain). Returns the From address.
 * @throws SmtpReply 550 5.6.0 (no From), 553 5.7.1 (everything else).
 */
export function checkSenderHeaders(fields: readonly HeaderField[], domain: string | null): string {
  const from = soleMailbox(fields, "From");
  if (!from) throw Replies.missingFrom();
  const sender = soleMailbox(fields, "Sender");
  if (domain !== null && emailDomain(from) !== domain) throw Replies.foreignFrom();
  if (domain !== null && sender && emailDomain(sender) !== domain) throw Replies.foreignSender();
  return from;
}
