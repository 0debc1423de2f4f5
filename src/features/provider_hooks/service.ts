/**
 * Provider event webhooks (docs/provider-webhooks.md): the bounces and complaints a verified post
 * reports go through the bounces feature's one path (applyDeliveryReport), like inbound DSNs. An
 * event id already seen is a replay and changes nothing; a message that is not one this server's
 * channel sent is ignored, so a provider account can never suppress an address Mailroom did not mail.
 */
import { eq, lt, sql } from "drizzle-orm";
import { changes, type Db } from "@/db/client";
import { messages, provider_hook_events, type EmailServer } from "@/db/schema";
import type { Deps } from "@/deps";
import { applyDeliveryReport, messageByMessageIdHeader, type ReportKind, type ReportResult } from "@/features/bounces/report";
import type { Provider } from "@/features/email_servers/credentials";
import { retentionJob } from "@/jobs/retention";

/** One bounce or complaint as a provider reports it, after its signature was verified. */
export interface ProviderEvent {
  /** The provider's id of the event (SNS MessageId, sg_event_id, …): a replay carries the same. */
  eventId: string;
  kind: ReportKind;
  recipient: string;
  /** How the provider names our message: the Message-ID header we sent… */
  messageIdHeader: string | null;
  /** …or the outbox row id we gave it as metadata (Postmark). */
  messageRowId: number | null;
  diagnostic: string | null;
  occurredAt: number;
}

export type EventOutcome = ReportResult | "replay" | "unknown_message";

/** Seen event ids are kept this long: longer than any provider retries a delivery (SendGrid: 72 h). */
export const SEEN_RETENTION_MS = 14 * 24 * 3600_000;

/** The outbox row an event is about, when it is one of `server`'s channel. */
function messageOf(db: Db, server: EmailServer, e: ProviderEvent): { id: number; channel_id: number } | undefined {
  const found =
    e.messageRowId !== null
      ? db.select({ id: messages.id, channel_id: messages.channel_id }).from(messages).where(eq(messages.id, e.messageRowId)).get()
      : e.messageIdHeader
        ? messageByMessageIdHeader(db, e.messageIdHeader, e.recipient, server.channel_id)
        : undefined;
  return found?.channel_id === server.channel_id ? found : undefined;
}

/**
 * When an event happened: the provider's time, or `now` when that is not a plausible one (before
 * 1970, beyond what a Date holds, or ahead of now: a future time would count in every soft-bounce
 * window and an unrepresentable one breaks the events feed).
 */
const occurredAt = (at: number, now: number) => (Number.isFinite(at) && at >= 0 ? Math.min(Math.round(at), now) : now);

/**
 * Records a verified post's events in one transaction, each at most once per provider event id. A
 * post's `nonce` is spent the same way (kept beside the event ids): a second post with it is a
 * replay as a whole, and a rolled-back post does not spend it.
 * @returns each event's outcome, in order.
 */
export function recordProviderEvents(deps: Deps, server: EmailServer, provider: Provider, events: readonly ProviderEvent[], nonce?: string): EventOutcome[] {
  if (!events.length && nonce === undefined) return [];
  const now = deps.clock.now();
  const outcomes = deps.db.transaction((t) => {
    const tx = t as unknown as Db;
    const seen = (eventId: string) => changes(tx.insert(provider_hook_events).values({ provider, event_id: eventId, email_server_id: server.id, received_at: now }).onConflictDoNothing().run()) === 0;
    if (nonce !== undefined && seen(`nonce:${nonce}`)) return events.map((): EventOutcome => "replay");
    return events.map((e): EventOutcome => {
      if (seen(e.eventId)) return "replay";
      const message = messageOf(tx, server, e);
      if (!message) return "unknown_message";
      return applyDeliveryReport(deps, { messageId: message.id, kind: e.kind, recipient: e.recipient, diagnostic: e.diagnostic, source: provider, occurredAt: occurredAt(e.occurredAt, now) }, tx);
    });
  });
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  deps.log.info("provider_hooks.events", { email_server_id: server.id, provider, ...counts });
  return outcomes;
}

/** Deletes up to `batch` seen event ids older than the retention. */
export function pruneSeenEvents(db: Db, now: number, batch: number): number {
  const old = sql`SELECT rowid FROM ${provider_hook_events} WHERE ${lt(provider_hook_events.received_at, now - SEEN_RETENTION_MS)} ORDER BY ${provider_hook_events.received_at} LIMIT ${batch}`;
  return changes(db.delete(provider_hook_events).where(sql`rowid IN (${old})`).run());
}

export const seenEventsRetentionJob = (db: Db) => retentionJob("provider_hooks.retention", (now, batch) => pruneSeenEvents(db, now, batch));

