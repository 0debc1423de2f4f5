/**
 * Records what happened to claimed messages: one transaction per batch (status, attempts, retry
 * time, the lease released, the server's health, the subscriber's counters, the `email.*` events).
 * The hot statements are prepared once per connection.
 */
import { eq } from "drizzle-orm";
import type { Database, Db } from "@/db/client";
import { messages, type Message } from "@/db/schema";
import type { Deps } from "@/deps";
import { markServerFailed, markServerHealthy } from "@/features/email_servers/service";
import { emailEvent, type EmailEventType, type EmailExtra, type NewEvent } from "@/features/events/catalogue";
import { appendEvents } from "@/features/events/service";
import { recordHardBounce } from "@/features/subscribers/eligibility";
import type { Metrics } from "@/metrics/metrics";
import type { WaitReason } from "./routing";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Retry delays after the 1st, 2nd, … temporary failure; then every 6 h (§9). */
export const RETRY_DELAYS = [1 * MINUTE, 5 * MINUTE, 15 * MINUTE, 1 * HOUR, 3 * HOUR, 6 * HOUR];
/** Temporary failures and waits turn into `failed` this long after the message was queued. */
export const RETRY_WINDOW = 72 * HOUR;

export const retryDelay = (attempts: number) => RETRY_DELAYS[Math.min(attempts, RETRY_DELAYS.length) - 1] ?? RETRY_DELAYS[0];

export type Outcome =
  | { kind: "sent"; response: string; serverId: number | null }
  | { kind: "bounced"; response: string; serverId: number | null }
  /** `keepStatus`: the message itself was not refused (servers down, internal error) — it stays `queued`, no event. */
  | { kind: "retry"; response: string; keepStatus?: boolean }
  | { kind: "failed"; reason: string; response: string | null }
  /** No route now (no active server, limits, throttling, capture down): waits without counting an attempt. */
  | { kind: "wait"; until: number; reason: WaitReason; response?: string }
  /** The row no longer exists (its channel was deleted). */
  | { kind: "gone" }
  /** A server failed before the transaction (failover exhausted): recorded on the server. */
  | { kind: "server_failed"; serverId: number; response: string; then: Outcome };

export interface Settled {
  message: Message;
  outcome: Outcome;
  /** The rendered subject (event payloads show what the recipient saw). */
  subject: string | null;
}

function prepare(database: Database) {
  const raw = database.raw;
  return {
    sent: raw.prepare(
      "UPDATE messages SET status = 'sent', sent_at = ?2, attempts = attempts + 1, email_server_id = ?3, smtp_response = ?4, next_attempt_at = NULL, lease_expires_at = NULL, waiting_for = NULL, updated_at = ?2 WHERE id = ?1",
    ),
    subscriberSent: raw.prepare("UPDATE subscribers SET last_email_sent_at = ?2, total_emails_sent = total_emails_sent + 1 WHERE id = ?1"),
    wait: raw.prepare(
      "UPDATE messages SET next_attempt_at = ?2, waiting_for = ?3, lease_expires_at = NULL, updated_at = ?4, smtp_response = coalesce(?5, smtp_response) WHERE id = ?1",
    ),
  };
}
const statements = new WeakMap<Database, ReturnType<typeof prepare>>();

/**
 * Writes every outcome of `batch` in one transaction.
 * @throws when the database cannot be written (disk full, read-only): nothing of the batch is written
 *   and the caller keeps it to try again.
 */
export function recordOutcomes(deps: Deps, batch: readonly Settled[]): void {
  if (batch.length === 0) return;
  let q = statements.get(deps.database);
  if (!q) statements.set(deps.database, (q = prepare(deps.database)));
  const now = deps.clock.now();
  const written: BatchWrites = { events: [], healthy: new Set() };
  deps.db.transaction((tx) => {
    for (const settled of batch) record(deps, tx, q!, settled, settled.outcome, now, written);
    // Once per server and batch, not per message.
    for (const serverId of written.healthy) markServerHealthy(tx, serverId);
    appendEvents(tx, deps.clock, written.events);
  });
  for (const settled of batch) countOutcome(deps.metrics, settled.outcome);
}

/** Counts a committed outcome by kind and server (each server failed over from, then the final one). */
function countOutcome(metrics: Metrics, outcome: Outcome): void {
  switch (outcome.kind) {
    case "gone":
      return;
    case "server_failed":
      metrics.delivered("server_failed", String(outcome.serverId));
      return countOutcome(metrics, outcome.then);
    case "sent":
    case "bounced":
      return metrics.delivered(outcome.kind, outcome.serverId === null ? "capture" : String(outcome.serverId));
    default:
      return metrics.delivered(outcome.kind, "none");
  }
}

/** What a batch writes once, after its messages: events, and servers that accepted mail. */
interface BatchWrites {
  events: NewEvent[];
  healthy: Set<number>;
}

function record(deps: Deps, tx: Db, q: ReturnType<typeof prepare>, { message: m, subject }: Settled, outcome: Outcome, now: number, batchOf: BatchWrites): void {
  const event = <T extends EmailEventType>(type: T, extra: EmailExtra<T>) => batchOf.events.push(emailEvent(type, deps.auth.cache.slugOf(m.channel_id) ?? "", { ...m, subject }, extra));
  const set = (values: Partial<Message>) =>
    tx.update(messages).set({ lease_expires_at: null, waiting_for: null, updated_at: now, ...values }).where(eq(messages.id, m.id)).run();
  switch (outcome.kind) {
    case "gone":
      return;
    case "server_failed":
      markServerFailed(tx, outcome.serverId, outcome.response, now);
      return record(deps, tx, q, { message: m, subject, outcome: outcome.then }, outcome.then, now, batchOf);
    case "sent":
      q.sent.run(m.id, now, outcome.serverId, outcome.response);
      if (outcome.serverId !== null) batchOf.healthy.add(outcome.serverId);
      if (m.subscriber_id) q.subscriberSent.run(m.subscriber_id, now);
      event("email.sent", { smtp_response: outcome.response });
      event("email.delivered", { smtp_response: outcome.response });
      return;
    case "bounced":
      set({ status: "bounced", failed_at: now, attempts: m.attempts + 1, email_server_id: outcome.serverId, failure_reason: "hard_bounce", smtp_response: outcome.response, next_attempt_at: null });
      recordHardBounce(deps, m.channel_id, m.recipient_email, tx);
      event("email.bounced", { smtp_response: outcome.response, bounce_type: "hard" });
      return;
    case "failed":
      set({ status: "failed", failed_at: now, failure_reason: outcome.reason, smtp_response: outcome.response, next_attempt_at: null });
      event("email.failed", { failure_reason: outcome.reason });
      return;
    case "retry": {
      const attempts = m.attempts + 1;
      const deadline = m.queue_at + RETRY_WINDOW;
      if (now >= deadline) {
        set({ status: "failed", failed_at: now, attempts, failure_reason: "retries_exhausted", smtp_response: outcome.response, next_attempt_at: null });
        event("email.failed", { failure_reason: "retries_exhausted", smtp_response: outcome.response });
        return;
      }
      const next = Math.min(now + retryDelay(attempts), deadline);
      // A refused message is `sending` (retry pending); when every server failed it stays `queued` (§9).
      set({ status: outcome.keepStatus ? m.status : "sending", attempts, next_attempt_at: next, smtp_response: outcome.response });
      if (!outcome.keepStatus) event("email.delivery_delayed", { smtp_response: outcome.response, next_attempt_at: new Date(next).toISOString() });
      return;
    }
    case "wait":
      if (now >= m.queue_at + RETRY_WINDOW) {
        set({ status: "failed", failed_at: now, failure_reason: outcome.reason, next_attempt_at: null });
        event("email.failed", { failure_reason: outcome.reason });
        return;
      }
      q.wait.run(m.id, outcome.until, outcome.reason, now, outcome.response ?? null);
      // A transactional held back by its server's limits says so once (Broadcast's `email.send_delayed`).
      if (outcome.reason === "rate_limited" && m.lane === "priority" && m.waiting_for !== "rate_limited") {
        event("email.send_delayed", { reason: outcome.reason, next_attempt_at: new Date(outcome.until).toISOString() });
      }
      return;
  }
}

