/**
 * Enrollments (docs/api-reference.md §6): a subscriber's place in a sequence. One rule for every
 * way in (the API, `init_tag`, the segment sync, `move_to_sequence`, forms): a new row at the root
 * `entry_point`, due now, plus `sequence.subscriber_added`. The step an enrollment stands on runs its
 * action at `next_trigger_at`; a wait (`delay`, `delay_until_time`) ends then (see `arrivalTime`).
 */
import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { subscriber_sequences, type Enrollment, type NewEnrollment, type Sequence, type SequenceStep, type Subscriber } from "@/db/schema";
import { sequenceEvent } from "@/features/events/catalogue";
import { appendEvents, type NewEvent } from "@/features/events/service";
import type { SequenceEventType } from "@/features/events/catalogue";
import { nextWallClockTime, type Clock } from "@/lib/time";

export type EnrolledSubscriber = Pick<Subscriber, "id" | "email">;

/** The `sequence.*` event of an enrollment (its status and step as given). */
export function enrollmentEvent<T extends SequenceEventType>(
  type: T,
  slug: string,
  sequence: Pick<Sequence, "id" | "label" | "channel_id">,
  subscriber: EnrolledSubscriber,
  enrollment: Pick<Enrollment, "id" | "status" | "current_step_id">,
  extra: Parameters<typeof sequenceEvent<T>>[3],
): NewEvent {
  const data = {
    channel: slug,
    sequence: { id: sequence.id, label: sequence.label },
    subscriber: { id: subscriber.id, email: subscriber.email },
    enrollment: { id: enrollment.id, status: enrollment.status, current_step_id: enrollment.current_step_id },
  };
  return sequenceEvent(type, sequence.channel_id, data, extra);
}

/** The enrollment of `subscriberId` in `sequenceId` that is still open (active or paused), if any. */
export function openEnrollment(db: Db, sequenceId: number, subscriberId: number): Enrollment | undefined {
  return db
    .select()
    .from(subscriber_sequences)
    .where(
      and(
        eq(subscriber_sequences.sequence_id, sequenceId),
        eq(subscriber_sequences.subscriber_id, subscriberId),
        inArray(subscriber_sequences.status, ["active", "paused"]),
      ),
    )
    .get();
}

/** The shortest wait a step can make (`delay`): automatic re-entry into a sequence waits as long. */
export const REENTRY_GAP_MS = 60_000;

/**
 * Whether an automatic enrollment (`init_tag`, a form, `move_to_sequence`) of the subscriber in the
 * sequence must be skipped: their latest enrollment there has ended and began less than
 * REENTRY_GAP_MS before `now`. Steps that move or tag subscribers round a loop with no wait would
 * otherwise enroll them again at every tick, forever. An open enrollment is not a re-entry.
 */
export function reentryTooSoon(db: Db, sequenceId: number, subscriberId: number, now: number): boolean {
  const latest = db
    .select({ status: subscriber_sequences.status, started_at: subscriber_sequences.started_at })
    .from(subscriber_sequences)
    .where(and(eq(subscriber_sequences.sequence_id, sequenceId), eq(subscriber_sequences.subscriber_id, subscriberId)))
    .orderBy(desc(subscriber_sequences.id))
    .limit(1)
    .get();
  return latest !== undefined && latest.status !== "active" && latest.status !== "paused" && latest.started_at > now - REENTRY_GAP_MS;
}

/** A new enrollment row: active at the root, due `now`. */
export function newEnrollment(sequence: Pick<Sequence, "id" | "channel_id" | "entry_point_id">, subscriberId: number, now: number): NewEnrollment {
  return {
    sequence_id: sequence.id,
    subscriber_id: subscriberId,
    channel_id: sequence.channel_id,
    status: "active",
    current_step_id: sequence.entry_point_id,
    next_trigger_at: now,
    started_at: now,
    created_at: now,
    updated_at: now,
  };
}

export interface EnrollResult {
  enrollment: Enrollment;
  /** false: the subscriber already had an open enrollment (returned as is). */
  created: boolean;
}

/**
 * Enrolls `subscriber` in `sequence` (call inside the caller's transaction; eligibility and the
 * sequence being active are the caller's checks). Already open → that enrollment, nothing written.
 */
export function enroll(db: Db, clock: Clock, slug: string, sequence: Sequence, subscriber: EnrolledSubscriber): EnrollResult {
  const open = openEnrollment(db, sequence.id, subscriber.id);
  if (open) return { enrollment: open, created: false };
  const enrollment = db
    .insert(subscriber_sequences)
    .values(newEnrollment(sequence, subscriber.id, clock.now()))
    .returning()
    .get();
  appendEvents(db, clock, [enrollmentEvent("sequence.subscriber_added", slug, sequence, subscriber, enrollment, {})]);
  return { enrollment, created: true };
}

/**
 * When an enrollment that arrives at `step` at `now` is due there: a `delay` waits its seconds, a
 * `delay_until_time` the next time the clock of its zone (default: the channel's) reads it; every
 * other action runs at once.
 */
export function arrivalTime(step: Pick<SequenceStep, "action" | "delay" | "delay_until_time" | "delay_until_timezone">, now: number, channelZone: string): number {
  if (step.action === "delay") return now + (step.delay ?? 0) * 1000;
  if (step.action === "delay_until_time" && step.delay_until_time) {
    return nextWallClockTime(step.delay_until_time, step.delay_until_timezone ?? channelZone, now);
  }
  return now;
}
