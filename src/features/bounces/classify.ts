/**
 * What a message received by the inbound bounce listener is (docs/bounces.md): parsed with
 * mailparser, then read from its machine-readable report part —
 * - a DSN (RFC 3464, `message/delivery-status`): `Action: failed` with a 5.x.x status → hard bounce;
 *   `Action: delayed` or a 4.x.x status → soft bounce; success notices (delivered, relayed) → unclassified;
 * - a feedback report (RFC 5965, `message/feedback-report`) → complaint (`not-spam` → unclassified);
 * - an automatic reply (RFC 3834 `Auto-Submitted`, vacation headers and subjects) → auto_reply;
 * - anything else → unclassified (stored for inspection, no action).
 * Human-readable text is never interpreted: wording differs per MTA and language.
 */
import { simpleParser, type Attachment, type ParsedMail, type SimpleParserOptions } from "mailparser";
import type { INBOUND_CLASSIFICATIONS } from "@/db/schema";
import { addressOf, MAX_REPORT_BYTES, parseFieldBlocks, statusCodeOf, type Fields } from "./report-fields";

export type InboundClassification = (typeof INBOUND_CLASSIFICATIONS)[number];

export interface Classified {
  classification: InboundClassification;
  /** Addresses the report names for the failed recipient, most specific first (Original-Recipient, Final-Recipient; ARF Original-Rcpt-To, the original's To). */
  recipients: string[];
  /** Status and diagnostic text, e.g. "5.1.1 smtp; 550 5.1.1 user unknown" (ARF: "feedback-type abuse"). */
  diagnostic: string | null;
  /** Message-ID header of the original message the report carries, if any. */
  originalMessageId: string | null;
  /** The original's envelope sender as the report states it (ARF `Original-Mail-From`, else its `Return-Path`): a signed return path names the message. */
  originalMailFrom: string | null;
  from: string | null;
  subject: string | null;
}

/** Lines that can open a MIME part: more than this many is a DSN bomb, refused before parsing. */
export const MAX_MIME_PARTS = 200;

/** A message with more than MAX_MIME_PARTS part boundaries. */
export class TooManyParts extends Error {}

const PARSE_OPTIONS: SimpleParserOptions = { keepDeliveryStatus: true, skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true };

const AUTO_REPLY_SUBJECT = /^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|abwesenheit|r[ée]ponse automatique|vacation)/i;

/** Counts lines starting with `--` (every MIME boundary is one) without parsing. */
function boundaryLines(raw: Buffer): number {
  let n = raw.subarray(0, 2).toString() === "--" ? 1 : 0;
  for (let at = raw.indexOf("\n--"); at >= 0; at = raw.indexOf("\n--", at + 3)) n++;
  return n;
}

/** @throws TooManyParts for a DSN bomb; anything unparseable is `unclassified`. */
export async function classifyMessage(raw: Buffer): Promise<Classified> {
  if (boundaryLines(raw) > MAX_MIME_PARTS) throw new TooManyParts(`more than ${MAX_MIME_PARTS} MIME parts`);
  let parsed: ParsedMail;
  try {
    parsed = await simpleParser(raw, PARSE_OPTIONS);
  } catch (err) {
    return { classification: "unclassified", recipients: [], diagnostic: `unparseable: ${(err as Error).message}`.slice(0, 200), originalMessageId: null, originalMailFrom: null, from: null, subject: null };
  }
  const part = (...types: string[]) => parsed.attachments.find((a) => types.includes(a.contentType.toLowerCase()));
  const original = part("message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers");
  const originalHeaders = original ? parseFieldBlocks(headerSection(original))[0] : undefined;
  const base = {
    originalMessageId: originalHeaders?.get("message-id") ?? null,
    originalMailFrom: addressOf(originalHeaders?.get("return-path")),
    from: parsed.from?.value[0]?.address ?? null,
    subject: parsed.subject ?? null,
  };
  const dsn = part("message/delivery-status", "message/global-delivery-status");
  if (dsn) return { ...base, ...fromDeliveryStatus(text(dsn)) };
  const feedback = part("message/feedback-report");
  if (feedback) {
    const fields = parseFieldBlocks(text(feedback))[0] ?? new Map<string, string>();
    const recipients = [addressOf(fields.get("original-rcpt-to")), addressOf(originalHeaders?.get("to"))];
    return {
      ...base,
      ...fromFeedbackReport(fields, recipients),
      originalMessageId: base.originalMessageId ?? fields.get("original-message-id") ?? null,
      originalMailFrom: addressOf(fields.get("original-mail-from")) ?? base.originalMailFrom,
    };
  }
  const classification = isAutoReply(parsed) ? "auto_reply" : "unclassified";
  return { ...base, classification, recipients: [], diagnostic: null };
}

const text = (a: Attachment) => a.content.subarray(0, MAX_REPORT_BYTES).toString("utf8");

/** The header section of an attached original (up to its first blank line). */
function headerSection(a: Attachment): string {
  const head = text(a);
  const end = head.search(/\r?\n\r?\n/);
  return end < 0 ? head : head.slice(0, end);
}

type Verdict = Pick<Classified, "classification" | "recipients" | "diagnostic">;

/** The recipient block that failed (else the delayed one, else the first) decides. */
function fromDeliveryStatus(body: string): Verdict {
  const recipients = parseFieldBlocks(body).filter((b) => b.has("action"));
  const action = (b: Fields) => b.get("action")!.toLowerCase().split(/\s/)[0];
  const block = recipients.find((b) => action(b) === "failed") ?? recipients.find((b) => action(b) === "delayed") ?? recipients[0];
  if (!block) return { classification: "unclassified", recipients: [], diagnostic: "delivery-status without a recipient" };
  const diagnosticCode = block.get("diagnostic-code");
  const status = statusCodeOf(block.get("status")) ?? statusCodeOf(diagnosticCode);
  const diagnostic = [status, diagnosticCode].filter(Boolean).join(" ") || null;
  const addresses = [addressOf(block.get("original-recipient")), addressOf(block.get("final-recipient"))].filter((a): a is string => a !== null);
  const act = action(block);
  const permanent = status ? status.startsWith("5.") : /\b5\d\d\b/.test(diagnosticCode ?? "");
  let classification: InboundClassification = "unclassified";
  if (act === "failed") classification = permanent ? "hard_bounce" : "soft_bounce";
  else if (act === "delayed" || status?.startsWith("4.")) classification = "soft_bounce";
  return { classification, recipients: addresses, diagnostic: diagnostic ?? `action ${act}` };
}

function fromFeedbackReport(fields: Fields, recipients: (string | null)[]): Verdict {
  const type = (fields.get("feedback-type") ?? "").toLowerCase();
  return {
    classification: type === "not-spam" || type === "" ? "unclassified" : "complaint",
    recipients: recipients.filter((a): a is string => a !== null),
    diagnostic: `feedback-type ${type || "missing"}`,
  };
}

/** RFC 3834 `Auto-Submitted` (other than `no`), the vacation programs' headers, or an out-of-office subject. */
function isAutoReply(parsed: ParsedMail): boolean {
  const header = (name: string) => {
    const v = parsed.headers.get(name);
    return typeof v === "string" ? v.toLowerCase() : v === undefined ? undefined : "";
  };
  const autoSubmitted = header("auto-submitted");
  if (autoSubmitted !== undefined && autoSubmitted.trim() !== "no") return true;
  if (header("x-autoreply") !== undefined || header("x-autorespond") !== undefined) return true;
  if (header("precedence") === "auto_reply") return true;
  return AUTO_REPLY_SUBJECT.test(parsed.subject ?? "");
}
