/**
 * The broadcasts job, one round per tick:
 * 1. scheduler — `future_scheduled` broadcasts whose stored time has come start sending (a time
 *    that passed while the server was down starts at the first tick after boot); one that cannot
 *    start becomes `failed` with the reason (`quota_exhausted`, …);
 * 2. fan-out — each `queueing` broadcast enqueues its next batch of the snapshot through the
 *    outbox's enqueue-many, in a short transaction that also advances `fanout_cursor`, so a crash
 *    neither loses nor repeats a recipient and a restart continues after the cursor;
 * 3. completion — a `sending` broadcast with nothing left to send becomes `sent`,
 *    `partial_failure` or `failed`;
 * 4. stops — paused and just-aborted broadcasts hold or fail rows an in-flight attempt made due again.
 */
import { and, asc, eq, gte, lte } from "drizzle-orm";
import type { Db } from "@/db/client";
import { broadcast_recipients, broadcasts, type Broadcast } from "@/db/schema";
import type { Deps } from "@/deps";
import type { Job } from "@/jobs/runner";
import { batchCompletedEvent } from "@/features/events/catalogue";
import { appendEvent } from "@/features/events/service";
import { AppError } from "@/lib/errors";
import { eventBroadcast } from "./model";
import { NO_RECIPIENTS, startSending } from "./send";
import { enforceStop } from "./control";
import { transition } from "./service";

/** Recipients per fan-out transaction: ~20 ms of write lock, so API writes never wait long. */
export const FANOUT_BATCH = 2000;
const DUE_PER_TICK = 20;
/** How long after an abort rows may come back from an attempt in flight: the delivery lease (5 min) and its first retry delay. */
const STOP_WINDOW = 10 * 60_000;

type OutboxRow = Parameters<Deps["outbox"]["enqueue"]>[0][number];
interface Recipient {
  subscriber_id: number;
  email: string;
  first_name: string | null;
  last_name: string | null;
}

function prepare(deps: Deps) {
  const raw = deps.database.raw;
  return {
    batch: raw.prepare(
      `SELECT r.subscriber_id, s.email, s.first_name, s.last_name FROM broadcast_recipients r JOIN subscribers s ON s.id = r.subscriber_id
       WHERE r.broadcast_id = ?1 AND r.subscriber_id > ?2 ORDER BY r.subscriber_id LIMIT ?3`,
    ),
    advance: raw.prepare("UPDATE broadcasts SET fanout_cursor = ?2, enqueued_count = enqueued_count + ?3, updated_at = ?4 WHERE id = ?1"),
    unfinished: raw.prepare("SELECT 1 FROM messages WHERE broadcast_id = ?1 AND status IN ('queued', 'sending') LIMIT 1"),
    outcomes: raw.prepare("SELECT status, count(*) AS n FROM messages WHERE broadcast_id = ?1 GROUP BY status"),
  };
}

/** Why a due broadcast could not start (`failure_reason`). */
function failureReason(err: AppError): string {
  if (err.code === "payment_required") return "quota_exhausted";
  if (err.message === NO_RECIPIENTS) return "no_eligible_recipients";
  return "sender_missing";
}

export function broadcastsJob(deps: Deps): Job {
  const q = prepare(deps);
  const byStatus = (status: Broadcast["status"]) => deps.db.select().from(broadcasts).where(eq(broadcasts.status, status)).orderBy(asc(broadcasts.id)).all();

  // A retry of an attempt in flight at the abort is scheduled at least a minute after its lease ends.
  const recentlyAborted = (now: number) =>
    deps.db
      .select()
      .from(broadcasts)
      .where(and(eq(broadcasts.status, "aborted"), gte(broadcasts.updated_at, now - STOP_WINDOW)))
      .all();

  const startDue = (now: number) => {
    const due = deps.db
      .select()
      .from(broadcasts)
      .where(and(eq(broadcasts.status, "future_scheduled"), lte(broadcasts.scheduled_send_at, now)))
      .orderBy(asc(broadcasts.scheduled_send_at))
      .limit(DUE_PER_TICK)
      .all();
    for (const b of due) {
      const channel = deps.auth.cache.channelById(b.channel_id);
      if (!channel) continue;
      try {
        deps.db.transaction((tx) => startSending(deps, tx, b, channel, now));
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        deps.db.transaction((tx) => transition(deps, tx, b, "failed", { failure_reason: failureReason(err) }));
        deps.log.warn("broadcast.start_failed", { broadcast_id: b.id, error: err.message });
      }
    }
  };

  /** Enqueues the next batch of `b`; returns true when more of its snapshot remains. */
  const fanOut = (id: number, now: number): boolean => {
    const more = deps.db.transaction((tx) => {
      // Re-read under the write lock: a pause or abort since the list was read stops the fan-out.
      const b = tx.select().from(broadcasts).where(eq(broadcasts.id, id)).get();
      if (b?.status !== "queueing") return false;
      const rows = q.batch.all(b.id, b.fanout_cursor, FANOUT_BATCH) as Recipient[];
      if (rows.length) {
        deps.outbox.enqueue(rows.map((r) => recipientRow(b, r)), now);
        q.advance.run(b.id, rows[rows.length - 1]!.subscriber_id, rows.length, now);
        const slug = deps.auth.cache.slugOf(b.channel_id) ?? "";
        const batch = { size: rows.length, enqueued_total: b.enqueued_count + rows.length };
        appendEvent(tx, deps.clock, batchCompletedEvent(b.channel_id, slug, eventBroadcast(b), batch));
      }
      if (rows.length === FANOUT_BATCH) return true;
      finishFanOut(deps, tx, b);
      return false;
    });
    deps.outbox.notify();
    return more;
  };

  const settle = (b: Broadcast) => {
    if (q.unfinished.get(b.id)) return;
    const counts = Object.fromEntries((q.outcomes.all(b.id) as { status: string; n: number }[]).map((r) => [r.status, r.n]));
    const sent = counts.sent ?? 0;
    const failed = (counts.failed ?? 0) + (counts.bounced ?? 0);
    deps.db.transaction((tx) => {
      if (sent === 0) transition(deps, tx, b, "failed", { failure_reason: "delivery_failed" });
      else transition(deps, tx, b, failed ? "partial_failure" : "sent");
    });
  };

  return {
    name: "broadcasts",
    intervalMs: 500,
    tick(now) {
      startDue(now);
      let more = false;
      for (const b of byStatus("queueing")) more = fanOut(b.id, now) || more;
      for (const b of byStatus("sending")) settle(b);
      for (const b of byStatus("paused")) enforceStop(deps, b, now);
      for (const b of recentlyAborted(now)) enforceStop(deps, b, now);
      return more;
    },
  };
}

/** The snapshot is consumed: dropped, and the broadcast is `sending`. */
function finishFanOut(deps: Deps, tx: Db, b: Broadcast): void {
  tx.delete(broadcast_recipients).where(eq(broadcast_recipients.broadcast_id, b.id)).run();
  const current = tx.select().from(broadcasts).where(eq(broadcasts.id, b.id)).get()!;
  transition(deps, tx, current, "sending");
}

/** One recipient's outbox row: no subject or body (compose renders the broadcast's, stored once). */
function recipientRow(b: Broadcast, r: Recipient): OutboxRow {
  const name = [r.first_name, r.last_name].filter(Boolean).join(" ");
  return {
    channel_id: b.channel_id,
    kind: "broadcast",
    source: "broadcast",
    status: "queued",
    recipient_email: r.email,
    recipient_name: name || null,
    subscriber_id: r.subscriber_id,
    broadcast_id: b.id,
    reply_to: b.reply_to,
    include_unsubscribe_link: b.include_unsubscribe_link,
    track_opens: b.track_opens,
    track_clicks: b.track_clicks,
    server_ids: b.email_server_ids.length ? b.email_server_ids : null,
  };
}
