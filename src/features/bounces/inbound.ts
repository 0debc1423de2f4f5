/**
 * Mail received by the inbound bounce listener (docs/bounces.md), once classified (classify.ts, in
 * the listener's thread): which of our messages it is about (the signed VERP address it came to,
 * else — for the feedback address — the Message-ID of the original it carries), the report applied
 * (report.ts) and the message kept in inbound_messages for inspection, all in one transaction.
 */
import { and, count, desc, eq, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import { changes, perConnection, type Db } from "@/db/client";
import { inbound_messages, type InboundMessage } from "@/db/schema";
import { linkSecret } from "@/db/settings";
import type { Deps } from "@/deps";
import { retentionJob } from "@/jobs/retention";
import { normalizeEmail } from "@/lib/email";
import type { Classified, InboundClassification } from "./classify";
import { applyDeliveryReport, MAX_DIAGNOSTIC, messageByMessageIdHeader, messageRecipient, type ReportKind } from "./report";
import { messageOfReturnPath } from "./verp";

export interface InboundEnvelope {
  mailFrom: string | null;
  rcptTo: string;
  remoteIp: string | null;
}

export interface InboundOutcome {
  id: number;
  classification: InboundClassification;
  result: "applied" | "duplicate" | "ignored" | "stored";
  messageId: number | null;
}

/** Classifications that are reports about a message (the rest is only stored). */
const REPORTS = new Set<InboundClassification>(["hard_bounce", "soft_bounce", "complaint"]);
const DAY = 86_400_000;
/**
 * Header text kept per received message (RFC 5322's line length): the sender decides how long a
 * From, subject or reported address is, and a page of the list holds 250 of them.
 */
const MAX_HEADER_TEXT = 998;
const cut = (text: string | null, max: number) => text?.slice(0, max) ?? null;

const COLUMNS = ["channel_id", "message_id", "classification", "result", "mail_from", "rcpt_to", "from_header", "subject", "recipient", "diagnostic", "raw_size", "remote_ip", "received_at"] as const;
// Prepared once per connection (the listener writes one row per message received).
const storeStatement = perConnection((db: Db) =>
  db
    .insert(inbound_messages)
    .values(Object.fromEntries(COLUMNS.map((c) => [c, sql.placeholder(c)])) as never)
    .returning({ id: inbound_messages.id })
    .prepare(),
);

/** Records one classified message of `size` bytes: the report applied, the message stored. */
export async function recordInbound(deps: Deps, envelope: InboundEnvelope, classified: Classified, size: number): Promise<InboundOutcome> {
  const signedId = signedMessage(deps, envelope.rcptTo, classified.originalMailFrom);
  // Concurrent deliveries share one commit (db/group-commit.ts): a DSN flood costs a fraction of a commit each.
  const outcome = await deps.commits.run((tx) => {
    const messageId = signedId ?? unsignedMatch(tx, classified);
    const message = messageId === null ? undefined : messageRecipient(tx, messageId);
    const recipient = message ? reportedRecipient(classified, message.recipient_email, signedId !== null) : (classified.recipients[0] ?? null);
    let result: InboundOutcome["result"] = "stored";
    if (REPORTS.has(classified.classification)) {
      result = messageId !== null && recipient !== null
        ? applyDeliveryReport(deps, { messageId, kind: classified.classification as ReportKind, recipient, diagnostic: classified.diagnostic, source: "inbound", occurredAt: deps.clock.now() }, tx)
        : "ignored";
    }
    const row = storeStatement(tx).get({
      channel_id: message?.channel_id ?? null,
      message_id: message ? messageId : null,
      classification: classified.classification,
      result,
      mail_from: envelope.mailFrom,
      rcpt_to: envelope.rcptTo,
      from_header: cut(classified.from, MAX_HEADER_TEXT),
      subject: cut(classified.subject, MAX_HEADER_TEXT),
      recipient: cut(recipient, MAX_HEADER_TEXT),
      diagnostic: cut(classified.diagnostic, MAX_DIAGNOSTIC),
      raw_size: size,
      remote_ip: envelope.remoteIp,
      received_at: deps.clock.now(),
    })!;
    return { id: row.id, classification: classified.classification, result, messageId: message ? messageId : null };
  });
  const line = { inbound_id: outcome.id, classification: outcome.classification, result: outcome.result, message_id: outcome.messageId, remote_ip: envelope.remoteIp };
  if (outcome.result === "ignored") deps.log.warn("bounces.report_ignored", { ...line, reason: outcome.messageId === null ? "no message of ours" : "not sent, another recipient, or redacted" });
  else deps.log.info("bounces.inbound_received", line);
  return outcome;
}

/**
 * The message a signed return path names: the address the report came to, else (a feedback loop
 * reporting to the feedback address) the original's envelope sender that the report states.
 */
function signedMessage(deps: Deps, rcptTo: string, originalMailFrom: string | null): number | null {
  const domain = deps.config.bounceDomain;
  if (!domain) return null;
  const secret = linkSecret(deps);
  return messageOfReturnPath(secret, domain, rcptTo) ?? (originalMailFrom ? messageOfReturnPath(secret, domain, originalMailFrom) : null);
}

/**
 * A report with no signed return path (to the feedback address) names its message by the
 * original's Message-ID — trusted only when Mailroom made that id (`<row id.random@host>`, ~41
 * random bits): SMTP clients choose their own, and anyone who knows or guesses one could otherwise
 * forge a complaint and suppress its recipient.
 */
function unsignedMatch(tx: Db, classified: Classified): number | null {
  if (!classified.originalMessageId) return null;
  const row = messageByMessageIdHeader(tx, classified.originalMessageId, classified.recipients[0] ?? undefined);
  return row && classified.originalMessageId.trim().replace(/^<?/, "<").startsWith(`<${row.id}.`) ? row.id : null;
}

/**
 * The recipient to report: the address the report names that is the message's own. A feedback
 * report (or any report naming nobody) that came to the message's signed return path is about
 * that message's recipient — feedback loops redact or rewrite the address. Otherwise the first
 * named: a DSN about someone else (a forward) is then ignored by applyDeliveryReport.
 */
function reportedRecipient(c: Classified, messageRecipientEmail: string, signed: boolean): string | null {
  const own = normalizeEmail(messageRecipientEmail);
  if (c.recipients.some((r) => normalizeEmail(r) === own)) return messageRecipientEmail;
  if (signed && (c.recipients.length === 0 || c.classification === "complaint")) return messageRecipientEmail;
  return c.recipients[0] ?? null;
}

export interface InboundFilters {
  classification?: InboundClassification;
  result?: InboundOutcome["result"];
}

/**
 * A page of received mail, newest first: about messages of `channelIds`, plus what was about no
 * message of ours when `unlinked` (tokens of scope `all`).
 */
export function listInbound(deps: Deps, channelIds: readonly number[], unlinked: boolean, filters: InboundFilters, limit: number, offset: number): { rows: InboundMessage[]; total: number } {
  const m = inbound_messages;
  const reach = [inArray(m.channel_id, [...channelIds]), ...(unlinked ? [isNull(m.channel_id)] : [])];
  const conds: (SQL | undefined)[] = [or(...reach)];
  if (filters.classification) conds.push(eq(m.classification, filters.classification));
  if (filters.result) conds.push(eq(m.result, filters.result));
  const where = and(...conds);
  const rows = deps.db.select().from(m).where(where).orderBy(desc(m.id)).limit(limit).offset(offset).all();
  const total = rows.length < limit && (rows.length > 0 || offset === 0) ? offset + rows.length : deps.db.select({ n: count() }).from(m).where(where).get()!.n;
  return { rows, total };
}

/** Received mail is kept MAILROOM_EVENT_RETENTION_DAYS, like the events it produced. */
export const inboundRetentionJob = (db: Db, retentionDays: number) =>
  retentionJob("bounces.inbound_retention", (now, batch) => {
    const old = db.select({ id: inbound_messages.id }).from(inbound_messages).where(lt(inbound_messages.received_at, now - retentionDays * DAY)).orderBy(inbound_messages.id).limit(batch);
    return changes(db.delete(inbound_messages).where(inArray(inbound_messages.id, old)).run());
  });
