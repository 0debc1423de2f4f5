/**
 * Starting a send (§5 `send_broadcast`, or the scheduler when a broadcast falls due): the audience
 * is snapshotted into `broadcast_recipients` by one INSERT … SELECT — union of `segment_ids` (every
 * eligible subscriber when empty) minus `excluded_segment_ids`, eligible only; subscribers are
 * unique per channel by email, so the snapshot is de-duplicated by email — and the channel's quota
 * is charged for it in the same transaction. The fan-out job (jobs.ts) then enqueues the snapshot.
 */
import { and, eq, inArray, not, or, sql, type SQL } from "drizzle-orm";
import { changes, type Db } from "@/db/client";
import { broadcast_recipients, segments, subscribers, type Broadcast, type Channel } from "@/db/schema";
import type { Deps } from "@/deps";
import { chargeQuota, type QuotaState } from "@/features/channels/quota";
import { segmentCondition } from "@/features/segments/service";
import { eligibleCondition } from "@/features/subscribers/eligibility";
import { unprocessable } from "@/lib/errors";
import { storeLinks } from "./content";
import { requireStatus, transition } from "./service";

export const SENDABLE = ["draft", "future_scheduled", "failed"] as const;
export const NO_RECIPIENTS = "Broadcast has no eligible recipients";

/** Membership of any of the segments (stored rules compiled to SQL), or null when none is named. */
function anySegment(deps: Deps, db: Db, channelId: number, ids: readonly number[]): SQL | null {
  if (ids.length === 0) return null;
  const rows = db.select().from(segments).where(and(eq(segments.channel_id, channelId), inArray(segments.id, [...ids]))).all();
  return rows.length ? or(...rows.map((s) => segmentCondition(deps, s)))! : sql`0`;
}

/** The audience condition of a broadcast over `subscribers`. */
export function audienceCondition(deps: Deps, db: Db, b: Broadcast): SQL {
  const included = anySegment(deps, db, b.channel_id, b.segment_ids);
  const excluded = anySegment(deps, db, b.channel_id, b.excluded_segment_ids);
  return and(eligibleCondition(b.channel_id), included ?? undefined, excluded ? not(excluded) : undefined)!;
}

/**
 * Snapshots the audience, charges the quota and moves `b` to `queueing` (event `broadcast.queueing`),
 * all in `tx`. @throws 422 no sender_email / no eligible recipients, 402 quota (nothing written).
 */
export function startSending(deps: Deps, tx: Db, b: Broadcast, channel: Channel, now: number): { broadcast: Broadcast; quota: QuotaState } {
  requireStatus(b, "sent", SENDABLE);
  if (!channel.sender_email) {
    throw unprocessable(`Channel ${channel.slug} has no sender_email; set one before sending`, { errors: { channel: ["has no sender_email"] } });
  }
  tx.delete(broadcast_recipients).where(eq(broadcast_recipients.broadcast_id, b.id)).run();
  const audience = tx
    .select({ broadcast_id: sql<number>`${b.id}`.as("broadcast_id"), subscriber_id: subscribers.id })
    .from(subscribers)
    .where(audienceCondition(deps, tx, b));
  const total = changes(tx.insert(broadcast_recipients).select(audience).run());
  if (total === 0) throw unprocessable(NO_RECIPIENTS);
  const quota = chargeQuota(tx, channel, total, now);
  storeLinks(tx, b.id, b.body);
  const broadcast = transition(deps, tx, b, "queueing", { total_recipients: total, enqueued_count: 0, fanout_cursor: 0, sent_at: now, failure_reason: null });
  return { broadcast, quota };
}

/** `send_broadcast`: starts now (the fan-out job takes it from there). */
export function sendBroadcast(deps: Deps, channel: Channel, b: Broadcast): { broadcast: Broadcast; quota: QuotaState } {
  return deps.db.transaction((tx) => startSending(deps, tx, b, channel, deps.clock.now()));
}

