/**
 * Builds the RFC 5322 message of a structured mail (headers, a text and an HTML alternative) in one
 * synchronous pass, as nodemailer's MailComposer would write it: the same header encoding (its
 * `MimeNode.encodeHeaderValue`, folding at 76), the same transfer-encoding choice per part (7bit,
 * quoted-printable or base64) and the same multipart/alternative layout. Handing nodemailer the
 * finished bytes (`raw`) skips its stream pipeline — a dozen transform streams and ~30 socket
 * writes per message, most of a broadcast message's CPU (docs/benchmarks.md, broadcast delivery).
 * Imported lazily with nodemailer by the SMTP transport.
 */
import { randomBytes } from "node:crypto";
import * as base64 from "nodemailer/lib/base64";
import { foldLines, hasLongerLines, isPlainText } from "nodemailer/lib/mime-funcs";
import MimeNode from "nodemailer/lib/mime-node";
import * as qp from "nodemailer/lib/qp";

export interface MimeAddress {
  name: string | null;
  address: string;
}

export interface MimeMessage {
  from: MimeAddress;
  to: MimeAddress;
  replyTo: string | null;
  subject: string;
  /** `<id@host>` */
  messageId: string;
  /** Extra headers, written first (List-Unsubscribe, X-Mailroom-Capture, …). */
  headers: Record<string, string>;
  text: string;
  html: string;
}

const LINE = 76;
const encoder = new MimeNode();

/** A header line as nodemailer writes it: the value encoded for its field, folded at 76. */
function header(key: string, value: string | { name: string; address: string }): string {
  const line = `${key}: ${encoder.encodeHeaderValue(key, value)}`;
  return line.length < LINE ? line : foldLines(line, LINE);
}

/** nodemailer writes a nameless address without the name part. */
const named = (a: MimeAddress) => (a.name ? { name: a.name, address: a.address } : a.address);

/** Address headers of the same sender repeat for every message of a broadcast: encoded once. */
const addressLines = new Map<string, string>();
const ADDRESS_CACHE = 256;

function addressHeader(key: string, value: MimeAddress | string): string {
  const cacheKey = typeof value === "string" ? `${key}\n${value}` : `${key}\n${value.name ?? ""}\n${value.address}`;
  let line = addressLines.get(cacheKey);
  if (line === undefined) {
    line = header(key, typeof value === "string" ? value : named(value));
    if (addressLines.size >= ADDRESS_CACHE) addressLines.delete(addressLines.keys().next().value!);
    addressLines.set(cacheKey, line);
  }
  return line;
}

/** The name and address as nodemailer writes them when both are plain (a word-character name, a lower-case ASCII domain). */
const PLAIN_NAME = /^[\w ]*$/;
const PLAIN_MAILBOX = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

function recipientHeader(to: MimeAddress): string {
  if (!PLAIN_MAILBOX.test(to.address) || (to.name && !PLAIN_NAME.test(to.name))) return header("To", named(to));
  const line = to.name ? `To: ${to.name} <${to.address}>` : `To: ${to.address}`;
  return line.length < LINE ? line : foldLines(line, LINE);
}

interface Part {
  type: string;
  encoding: string;
  body: string;
}

/** A text part encoded with nodemailer's choice of transfer encoding. */
function part(contentType: "text/plain" | "text/html", content: string): Part {
  const type = `${contentType}; charset=utf-8`;
  if (isPlainText(content) && !hasLongerLines(content, LINE)) return { type, encoding: "7bit", body: content };
  if (mostlyLatin(content)) return { type, encoding: "quoted-printable", body: qp.wrap(qpEncode(content), LINE) };
  return { type, encoding: "base64", body: base64.wrap(base64.encode(content), LINE) };
}

/**
 * Quoted-printable bytes as nodemailer's `qp.encode` writes them, escaping only what needs it
 * instead of walking every byte (HTML is mostly literal): the UTF-8 bytes of non-ASCII characters
 * (a lone surrogate as U+FFFD, like Buffer.from), controls but TAB, CR and LF, "=", DEL, and a space
 * or tab before a line break or at the end.
 */
const QP_ESCAPED = /[\ud800-\udbff][\udc00-\udfff]|[\x00-\x08\x0b\x0c\x0e-\x1f=\x7f-\uffff]|[ \t](?=[\r\n]|$)/g;
const QP_ASCII = Array.from({ length: 128 }, (_, code) => `=${code.toString(16).toUpperCase().padStart(2, "0")}`);
const qpEscape = (c: string) => (c.length === 1 && c.charCodeAt(0) < 0x80 ? QP_ASCII[c.charCodeAt(0)]! : [...Buffer.from(c)].map((byte) => `=${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""));
export const qpEncode = (text: string) => text.replace(QP_ESCAPED, qpEscape);

/** nodemailer's text-encoding rule: quoted-printable unless most characters are outside Latin letters. */
function mostlyLatin(value: string): boolean {
  let nonLatin = 0;
  let latin = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x08 || code === 0x0b || code === 0x0c || (code >= 0x0e && code <= 0x1f) || code >= 0x80) nonLatin++;
    else if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) latin++;
  }
  return nonLatin < latin;
}

// Boundaries: a random prefix per process and a counter (unique per message, never in encoded content).
const boundaryPrefix = `--_mr-${randomBytes(8).toString("hex")}-`;
let boundaryCounter = 0;

/** The whole message, CRLF line ends in the structure (the DATA stream normalizes the rest, as for nodemailer's own). */
export function buildMime(m: MimeMessage, date: Date = new Date()): Buffer {
  const lines: string[] = [];
  for (const key in m.headers) lines.push(header(key, m.headers[key]!));
  lines.push(addressHeader("From", m.from), recipientHeader(m.to));
  if (m.replyTo) lines.push(addressHeader("Reply-To", m.replyTo));
  lines.push(header("Subject", m.subject), header("Message-ID", m.messageId));
  lines.push(`Date: ${date.toUTCString().replace(/GMT/, "+0000")}`);
  const parts = [...(m.text ? [part("text/plain", m.text)] : []), ...(m.html ? [part("text/html", m.html)] : [])];
  let body: string;
  if (parts.length < 2) {
    // One part: its headers are the message's (Content-Type last, as nodemailer orders them).
    const only = parts[0] ?? part("text/plain", "");
    lines.push(`Content-Transfer-Encoding: ${only.encoding}`, "MIME-Version: 1.0", `Content-Type: ${only.type}`);
    body = `${lines.join("\r\n")}\r\n\r\n${only.body}`;
  } else {
    const boundary = `${boundaryPrefix}${++boundaryCounter}`;
    lines.push("MIME-Version: 1.0", `Content-Type: multipart/alternative;\r\n boundary="${boundary}"`);
    const children = parts.map((p) => `--${boundary}\r\nContent-Type: ${p.type}\r\nContent-Transfer-Encoding: ${p.encoding}\r\n\r\n${p.body}`);
    body = `${lines.join("\r\n")}\r\n\r\n${children.join("\r\n")}\r\n--${boundary}--\r\n`;
  }
  return Buffer.from(body.endsWith("\n") ? body : body + "\r\n");
}
