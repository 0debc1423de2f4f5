/**
 * `init_segment_id` (docs/api-reference.md §6): every 15 minutes the eligible members of each active
 * sequence's segment who were never enrolled in it are enrolled at the root, due now, with their
 * `sequence.subscriber_added` events. Set-based: one select of members (the segment's compiled SQL,
 * the eligibility rule and "never enrolled" in one query) and one insert per batch; a budget per
 * tick keeps a large segment from holding the write lock, the runner ticks again while work is left.
 */
import { and, asc, eq, isNotNull, notExists, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { segments, sequences, subscriber_sequences, subscribers, type Sequence } from "@/db/schema";
import type { Deps } from "@/deps";
import { appendEvents } from "@/features/events/service";
import { segmentCondition } from "@/features/segments/service";
import { eligibleCondition } from "@/features/subscribers/eligibility";
import type { Job } from "@/jobs/runner";
import { enrollmentEvent, newEnrollment } from "./enrollment";

export const SEGMENT_SYNC_JOB = "sequences.segment_sync";
/** Enrollments written per tick, over all sequences. */
const BATCH = 500;

/** Enrolls up to `limit` new members of `sequence`'s segment; returns how many. */
function enrollMembers(deps: Deps, db: Db, sequence: Sequence, now: number, limit: number): number {
  const segment = db.select().from(segments).where(eq(segments.id, sequence.init_segment_id!)).get();
  if (!segment || segment.channel_id !== sequence.channel_id) return 0;
  const neverEnrolled = notExists(
    db
      .select({ one: sql`1` })
      .from(subscriber_sequences)
      .where(and(eq(subscriber_sequences.sequence_id, sequence.id), eq(subscriber_sequences.subscriber_id, subscribers.id))),
  );
  const members = db
    .select({ id: subscribers.id, email: subscribers.email })
    .from(subscribers)
    .where(and(segmentCondition(deps, segment), eligibleCondition(sequence.channel_id), neverEnrolled))
    .orderBy(asc(subscribers.id))
    .limit(limit)
    .all();
  if (members.length === 0) return 0;
  const rows = db
    .insert(subscriber_sequences)
    .values(members.map((m) => newEnrollment(sequence, m.id, now)))
    .returning()
    .all();
  const emails = new Map(members.map((m) => [m.id, m]));
  const slug = deps.auth.cache.slugOf(sequence.channel_id) ?? "";
  appendEvents(db, deps.clock, rows.map((e) => enrollmentEvent("sequence.subscriber_added", slug, sequence, emails.get(e.subscriber_id)!, e, {})));
  return rows.length;
}

export function segmentSyncJob(deps: Deps): Job {
  return {
    name: SEGMENT_SYNC_JOB,
    intervalMs: 15 * 60_000,
    tick(now) {
      return deps.db.transaction((tx) => {
        const db = tx as unknown as Db;
        const list = db.select().from(sequences).where(and(eq(sequences.active, true), isNotNull(sequences.init_segment_id))).orderBy(asc(sequences.id)).all();
        let budget = BATCH;
        for (const sequence of list) {
          budget -= enrollMembers(deps, db, sequence, now, budget);
          if (budget === 0) return true;
        }
        return false;
      });
    },
  };
}
