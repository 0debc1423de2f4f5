/**
 * Pause, resume and abort (§5). They act on the broadcast's outbox rows that no server has yet:
 * queued rows that are not leased. A paused row keeps its status and loses `next_attempt_at` (and
 * any wait for a route), so the claim — which only takes rows with a due `next_attempt_at` — skips
 * it until resume makes it due again; an aborted row becomes `failed` with `failure_reason:
 * "aborted"` (statistics leave it out). Rows leased at that moment (at most one claim batch per
 * tick in flight) finish their attempt.
 */
import { eq } from "drizzle-orm";
import { broadcast_recipients, type Broadcast, type BroadcastStatus } from "@/db/schema";
import type { Deps } from "@/deps";
import { requireStatus, transition } from "./service";

const UNSENT = "broadcast_id = ?1 AND status IN ('queued', 'sending') AND lease_expires_at IS NULL";
export const ABORTABLE: readonly BroadcastStatus[] = ["scheduled", "queueing", "sending", "paused"];

function prepare(deps: Deps) {
  const raw = deps.database.raw;
  return {
    hold: raw.prepare(`UPDATE messages SET next_attempt_at = NULL, waiting_for = NULL, updated_at = ?2 WHERE ${UNSENT} AND next_attempt_at IS NOT NULL`),
    release: raw.prepare(`UPDATE messages SET next_attempt_at = ?2, updated_at = ?2 WHERE ${UNSENT} AND next_attempt_at IS NULL`),
    abort: raw.prepare(
      `UPDATE messages SET status = 'failed', failure_reason = 'aborted', failed_at = ?2, next_attempt_at = NULL, waiting_for = NULL, updated_at = ?2 WHERE ${UNSENT}`,
    ),
    snapshotLeft: raw.prepare("SELECT 1 FROM broadcast_recipients WHERE broadcast_id = ?1 AND subscriber_id > ?2 LIMIT 1"),
  };
}
const statements = new WeakMap<Deps["database"], ReturnType<typeof prepare>>();
const prepared = (deps: Deps) => {
  let q = statements.get(deps.database);
  if (!q) statements.set(deps.database, (q = prepare(deps)));
  return q;
};

/**
 * Re-applies a pause or an abort to rows whose in-flight attempt ended after it (a retry or a wait
 * makes a row due again): the broadcasts job calls this each tick for paused broadcasts and for
 * aborted ones while a lease taken before the abort may still run out.
 */
export function enforceStop(deps: Deps, b: Broadcast, now: number): void {
  const q = prepared(deps);
  if (b.status === "paused") q.hold.run(b.id, now);
  else if (b.status === "aborted") q.abort.run(b.id, now);
}

/** Stops the fan-out and holds the unsent rows. */
export function pauseBroadcast(deps: Deps, b: Broadcast): Broadcast {
  requireStatus(b, "paused", ["queueing", "sending"]);
  return deps.db.transaction((tx) => {
    prepared(deps).hold.run(b.id, deps.clock.now());
    return transition(deps, tx, b, "paused");
  });
}

/** Makes the held rows due now; back to `queueing` while the snapshot is not fully enqueued, else `sending`. */
export function resumeBroadcast(deps: Deps, b: Broadcast): Broadcast {
  requireStatus(b, "resumed", ["paused"]);
  const row = deps.db.transaction((tx) => {
    const q = prepared(deps);
    q.release.run(b.id, deps.clock.now());
    return transition(deps, tx, b, q.snapshotLeft.get(b.id, b.fanout_cursor) ? "queueing" : "sending");
  });
  deps.outbox.notify();
  return row;
}

/** Fails the unsent rows (`aborted`) and drops what is left of the snapshot. */
export function abortBroadcast(deps: Deps, b: Broadcast): Broadcast {
  requireStatus(b, "aborted", ABORTABLE);
  return deps.db.transaction((tx) => {
    prepared(deps).abort.run(b.id, deps.clock.now());
    tx.delete(broadcast_recipients).where(eq(broadcast_recipients.broadcast_id, b.id)).run();
    return transition(deps, tx, b, "aborted");
  });
}

