/**
 * Releases system mail deferred by a full monthly quota (docs/api-reference.md §1.8): confirmation
 * and welcome emails stored as `deferred` (not claimable, not charged) are queued oldest first, one
 * quota unit each, once the channel's month has room again — at the start of a UTC month (on the
 * job's interval) or at once when `monthly_send_quota` is raised or cleared (`outbox.quotaFreed`).
 * A confirmation gets its link here, so the link's 7 days count from when it is queued. Mail that
 * lost its point while it waited is dropped unsent (never charged): its subscriber was deleted or
 * redacted, a confirmation's subscriber already confirmed, unsubscribed since or with an older
 * one waiting, a welcome's unsubscribed. No `email.*` event is written while mail waits.
 * Restart-safe: the state is the rows.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { messages, subscribers, type Channel } from "@/db/schema";
import type { Deps } from "@/deps";
import { chargeQuota, peekQuota } from "@/features/channels/quota";
import { withConfirmationUrl } from "@/features/subscribers/double-opt-in";
import type { Job } from "@/jobs/runner";

const BATCH = 500;
export const QUOTA_RELEASE_JOB = "quota.deferred_release";
/** Written as a literal so SQLite uses the partial index `messages_deferred_idx`. */
const DEFERRED = sql`${messages.status} = 'deferred'`;
/**
 * The deferred message's subscriber, while the mail still makes sense to send. A confirmation is
 * not sent to someone who unsubscribed after asking for it (at the same millisecond counts as
 * after: when in doubt, no mail); one asked for after an unsubscribe is, as when queued at once.
 */
const STILL_WANTED = sql`SELECT 1 FROM ${subscribers} WHERE ${subscribers.id} = ${messages.subscriber_id} AND ${subscribers.redacted_at} IS NULL
  AND (CASE ${messages.source} WHEN 'confirmation' THEN ${subscribers.confirmed_at} IS NULL AND coalesce(${subscribers.unsubscribed_at} < ${messages.created_at}, 1)
    ELSE ${subscribers.unsubscribed_at} IS NULL END)`;
/**
 * An older confirmation of the same subscriber waits too: someone whose confirmation never came
 * signs up again, and every link confirms the same subscriber, so only the oldest is sent (and charged).
 * The literals let SQLite use the partial index `messages_system_idx`.
 */
const SUPERSEDED = sql`${messages.source} = 'confirmation' AND EXISTS (SELECT 1 FROM ${messages} AS older WHERE older.subscriber_id = ${messages.subscriber_id}
  AND older.kind = 'system' AND older.source = 'confirmation' AND older.status = 'deferred' AND older.id < ${messages.id})`;

export function quotaReleaseJob(deps: Deps): Job {
  return {
    name: QUOTA_RELEASE_JOB,
    intervalMs: 60_000,
    tick(now) {
      const waiting = deps.db.selectDistinct({ id: messages.channel_id }).from(messages).where(DEFERRED).all();
      let released = 0;
      let more = false;
      for (const { id } of waiting) {
        const channel = deps.auth.cache.channelById(id);
        if (!channel) continue;
        const n = deps.db.transaction((tx) => releaseDeferred(deps, tx as unknown as Db, channel, now));
        released += n;
        more ||= n === BATCH;
      }
      if (released) deps.outbox.notify();
      return more;
    },
  };
}

/** Queues as much of the channel's deferred mail as its month has room for (one batch); returns how many. */
function releaseDeferred(deps: Deps, tx: Db, channel: Channel, now: number): number {
  const { remaining } = peekQuota(tx, channel, now);
  const room = remaining === null ? BATCH : Math.min(BATCH, remaining);
  if (room === 0) return 0;
  tx.delete(messages).where(and(eq(messages.channel_id, channel.id), DEFERRED, sql`(NOT EXISTS (${STILL_WANTED}) OR ${SUPERSEDED})`)).run();
  const due = tx
    .select({ id: messages.id, source: messages.source, subscriber_id: messages.subscriber_id, data: messages.data })
    .from(messages)
    .where(and(eq(messages.channel_id, channel.id), DEFERRED))
    .orderBy(asc(messages.id))
    .limit(room)
    .all();
  if (due.length === 0) return 0;
  chargeQuota(tx, channel, due.length, now);
  tx.update(messages)
    .set({ status: "queued", queue_at: now, next_attempt_at: now, updated_at: now })
    .where(inArray(messages.id, due.map((m) => m.id)))
    .run();
  for (const m of due) {
    if (m.source !== "confirmation" || m.subscriber_id === null) continue;
    tx.update(messages).set({ data: withConfirmationUrl(deps, m.data, m.subscriber_id, now) }).where(eq(messages.id, m.id)).run();
  }
  return due.length;
}
