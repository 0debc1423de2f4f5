/**
 * Bounces and complaints that arrive after the SMTP transaction (docs/api-reference.md §12, the
 * Mailroom extension "Bounces that arrive later"): one report about one sent message — from a DSN or
 * feedback report received by the inbound listener, or from a provider's event webhook — applied in
 * one transaction. Only messages Mailroom sent, and only their own recipient, can be reported on: a
 * report can never suppress an address Mailroom did not mail.
 */
import { and, eq, isNotNull, sql } from "drizzle-orm";
import { changes, perConnection, type Db } from "@/db/client";
import { delivery_reports, messages, subscribers, suppressions, type Message, type REPORT_KINDS, type REPORT_SOURCES } from "@/db/schema";
import type { Deps } from "@/deps";
import { emailEvent } from "@/features/events/catalogue";
import { appendEvents } from "@/features/events/service";
import { isSuppressed, recordComplaint, recordHardBounce } from "@/features/subscribers/eligibility";
import { normalizeEmail } from "@/lib/email";

export type ReportKind = (typeof REPORT_KINDS)[number];
export type ReportSource = (typeof REPORT_SOURCES)[number];

export interface DeliveryReport {
  /** The outbox row (messages.id) the report is about. */
  messageId: number;
  kind: ReportKind;
  /** The recipient the report names; ignored (returns "ignored") unless it equals the message's recipient, case-insensitively. */
  recipient: string;
  /** Status / diagnostic text (e.g. "5.1.1 smtp; 550 5.1.1 user unknown"), stored as smtp_response. */
  diagnostic: string | null;
  source: ReportSource;
  occurredAt: number;
}

export type ReportResult = "applied" | "duplicate" | "ignored";

const DAY = 86_400_000;
/** Soft bounces of one address on one channel (distinct messages) within this window suppress it… */
export const SOFT_BOUNCE_WINDOW = 15 * DAY;
/** …once there are this many. */
export const SOFT_BOUNCE_LIMIT = 3;
/** Diagnostic text kept per report (and per received message, inbound.ts). */
export const MAX_DIAGNOSTIC = 1000;

const prepared = perConnection((db: Db) => ({
    message: db.select().from(messages).where(eq(messages.id, sql.placeholder("id"))).prepare(),
    redacted: db.select({ id: subscribers.id }).from(subscribers).where(and(eq(subscribers.id, sql.placeholder("id")), isNotNull(subscribers.redacted_at))).prepare(),
    byHeader: db
      .select({ id: messages.id, channel_id: messages.channel_id, recipient_email: messages.recipient_email })
      .from(messages)
      .where(eq(messages.message_id, sql.placeholder("header")))
      .orderBy(messages.id)
      .prepare(),
    addReport: db
      .insert(delivery_reports)
      .values({
        message_id: sql.placeholder("message_id"),
        channel_id: sql.placeholder("channel_id"),
        email: sql.placeholder("email"),
        kind: sql.placeholder("kind"),
        source: sql.placeholder("source"),
        diagnostic: sql.placeholder("diagnostic"),
        occurred_at: sql.placeholder("occurred_at"),
        created_at: sql.placeholder("created_at"),
      })
      .onConflictDoNothing()
      .prepare(),
    bounced: db
      .update(messages)
      .set({ status: "bounced", failed_at: sql`${sql.placeholder("now")}`, failure_reason: "hard_bounce", smtp_response: sql`${sql.placeholder("diagnostic")}`, updated_at: sql`${sql.placeholder("now")}` })
      .where(eq(messages.id, sql.placeholder("id")))
      .prepare(),
    softBounces: db
      .select({ n: sql<number>`count(*)` })
      .from(delivery_reports)
      .where(
        sql`${delivery_reports.channel_id} = ${sql.placeholder("channel")} AND ${delivery_reports.email} = ${sql.placeholder("email")} AND kind = 'soft_bounce' AND ${delivery_reports.occurred_at} >= ${sql.placeholder("since")}`,
      )
      .prepare(),
}));

/**
 * The outbox row whose RFC 5322 Message-ID header is `headerValue` (with or without <>), if any.
 * An SMTP submission to several recipients shares one Message-ID: `recipient` picks that row
 * (else the first). SMTP clients choose their Message-IDs, so channels can share one: `channelId`
 * (when the report can only be about one channel's mail) looks at that channel's rows only.
 */
export function messageByMessageIdHeader(db: Db, headerValue: string, recipient?: string, channelId?: number): { id: number; channel_id: number; recipient_email: string } | undefined {
  const bare = headerValue.trim().replace(/^<|>$/g, "");
  if (!bare || bare.length > 998) return undefined;
  const all = prepared(db).byHeader.all({ header: `<${bare}>` });
  const rows = channelId === undefined ? all : all.filter((r) => r.channel_id === channelId);
  if (recipient === undefined) return rows[0];
  const wanted = normalizeEmail(recipient);
  return rows.find((r) => normalizeEmail(r.recipient_email) === wanted) ?? rows[0];
}

/** The channel and recipient of outbox row `id`, if it exists. */
export function messageRecipient(db: Db, id: number): Pick<Message, "channel_id" | "recipient_email"> | undefined {
  return prepared(db).message.get({ id });
}

/**
 * Applies one report in its own transaction (or `tx`): `duplicate` when the message already has a
 * report of that kind, `ignored` when the message does not exist, was never sent, has another
 * recipient, or went to a subscriber since redacted (the report would write the erased address
 * back into events and webhooks). Never suppresses an address Mailroom did not mail.
 */
export function applyDeliveryReport(deps: Deps, report: DeliveryReport, tx?: Db): ReportResult {
  const run = (db: Db): ReportResult => {
    const m = prepared(db).message.get({ id: report.messageId });
    if (!m || m.sent_at === null) return "ignored";
    const email = normalizeEmail(m.recipient_email);
    if (normalizeEmail(report.recipient) !== email) return "ignored";
    if (m.subscriber_id !== null && prepared(db).redacted.get({ id: m.subscriber_id })) return "ignored";
    const diagnostic = report.diagnostic?.slice(0, MAX_DIAGNOSTIC) ?? null;
    const stored = prepared(db).addReport.run({ message_id: m.id, channel_id: m.channel_id, email, kind: report.kind, source: report.source, diagnostic, occurred_at: report.occurredAt, created_at: deps.clock.now() });
    if (changes(stored) === 0) return "duplicate";
    const slug = deps.auth.cache.slugOf(m.channel_id) ?? "";
    switch (report.kind) {
      case "hard_bounce":
        hardBounce(deps, db, m, slug, diagnostic, report.occurredAt);
        break;
      case "soft_bounce":
        softBounce(deps, db, m, email, slug, diagnostic, report.occurredAt);
        break;
      case "complaint":
        complaint(deps, db, m, email);
        break;
    }
    return "applied";
  };
  return tx ? run(tx) : deps.db.transaction((t) => run(t as unknown as Db));
}

/** As a 5xx during the transaction (§9): the message `bounced`, suppression `hard_bounce`, `email.bounced` + `subscriber.bounced`. */
function hardBounce(deps: Deps, db: Db, m: Message, slug: string, diagnostic: string | null, occurredAt: number): void {
  const now = deps.clock.now();
  // sent_at stays: the message was sent; reputation moves it from delivered to bounced (migration 0021).
  prepared(db).bounced.run({ id: m.id, now, diagnostic });
  recordHardBounce(deps, m.channel_id, m.recipient_email, db);
  appendEvents(db, deps.clock, [emailEvent("email.bounced", slug, m, { smtp_response: diagnostic, bounce_type: "hard" }, occurredAt)]);
}

/** `email.soft_bounced`; the address is suppressed (`hard_bounce`) at its third soft bounce within 15 days. */
function softBounce(deps: Deps, db: Db, m: Message, email: string, slug: string, diagnostic: string | null, occurredAt: number): void {
  appendEvents(db, deps.clock, [emailEvent("email.soft_bounced", slug, m, { smtp_response: diagnostic }, occurredAt)]);
  const { n } = prepared(db).softBounces.get({ channel: m.channel_id, email, since: occurredAt - SOFT_BOUNCE_WINDOW })!;
  if (n >= SOFT_BOUNCE_LIMIT && isSuppressed(db, m.channel_id, email) === null) {
    deps.log.info("bounces.soft_bounce_limit", { message_id: m.id, channel_id: m.channel_id, soft_bounces: n });
    recordHardBounce(deps, m.channel_id, email, db);
  }
}

/** Suppression `complaint` on the channel, `email.complained` (about this message) + `subscriber.complained`. */
function complaint(deps: Deps, db: Db, m: Message, email: string): void {
  db.insert(suppressions).values({ channel_id: m.channel_id, email, reason: "complaint", source: "delivery", created_at: deps.clock.now() }).onConflictDoNothing().run();
  recordComplaint(deps, db, m.channel_id, email, m);
}
