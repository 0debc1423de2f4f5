/**
 * Enrollments through the API (docs/api-reference.md §6 add_subscriber, remove_subscriber,
 * list_subscribers) and the moves a step tree change makes: enrollments standing on a deleted step
 * go on to its child or complete. Every status change appends its `sequence.*` event.
 */
import { and, asc, count, eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { sequences, subscriber_sequences, subscribers, type Enrollment, type Sequence, type SequenceStep, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import type { SequenceEventType } from "@/features/events/catalogue";
import { appendEvents } from "@/features/events/service";
import { isSuppressed } from "@/features/subscribers/eligibility";
import { SubscriberFields } from "@/features/subscribers/fields";
import { subscriberStatus } from "@/features/subscribers/model";
import { upsertSubscriber } from "@/features/subscribers/service";
import { findByEmail } from "@/features/subscribers/store";
import type { FieldValues } from "@/input/fields";
import type { PageParams } from "@/input/pagination";
import { AppError, unprocessable } from "@/lib/errors";
import { arrivalTime, enroll, enrollmentEvent, openEnrollment } from "./enrollment";
import { OPEN } from "./service";

const { email, first_name, last_name, tags, custom_data } = SubscriberFields;
/** add_subscriber: the subscriber's fields, top-level or under `subscriber`. */
export const MemberFields = { email, first_name, last_name, tags, custom_data };
export const RemoveFields = { email };

const slugOf = (deps: Deps, s: Pick<Sequence, "channel_id">) => deps.auth.cache.slugOf(s.channel_id) ?? "";

/** Why `s` can't be enrolled (§6: unsubscribed, suppressed, bounced, pending…), or null. */
function ineligibility(db: Db, s: Subscriber): string | null {
  const status = subscriberStatus(s);
  if (status !== "active") return `Subscriber is ${status} and can't be added to a sequence`;
  return isSuppressed(db, s.channel_id, s.email) ? "Subscriber is suppressed and can't be added to a sequence" : null;
}

/**
 * Enrolls the subscriber with `v.email`, creating it (source `sequence`) or updating it as the §3
 * upsert does. @returns the enrollment and whether it is new (false: it was already open).
 * @throws 422 inactive sequence or ineligible subscriber (nothing stored).
 */
export function addSubscriber(deps: Deps, sequence: Sequence, v: FieldValues<typeof MemberFields>) {
  if (!sequence.active) throw unprocessable("Sequence is not active");
  const channel = deps.auth.cache.channelById(sequence.channel_id)!;
  return deps.db.transaction((tx) => {
    const db = tx as unknown as Db;
    const known = findByEmail(db, channel.id, v.email);
    const before = known ? openEnrollment(db, sequence.id, known.id) : undefined;
    const { subscriber } = upsertSubscriber(deps, channel, { ...v, source: known ? undefined : "sequence" }, db);
    const why = ineligibility(db, subscriber);
    if (why) throw unprocessable(why);
    const { enrollment } = enroll(db, deps.clock, channel.slug, sequence, subscriber);
    return { enrollment, subscriber, created: !before };
  });
}

/** Ends the open enrollment of `address` as `removed`. @throws 404 "Subscriber not enrolled in sequence". */
export function removeSubscriber(deps: Deps, sequence: Sequence, address: string): void {
  deps.db.transaction((tx) => {
    const db = tx as unknown as Db;
    const subscriber = findByEmail(db, sequence.channel_id, address);
    const open = subscriber && openEnrollment(db, sequence.id, subscriber.id);
    if (!subscriber || !open) throw new AppError("not_found", "Subscriber not enrolled in sequence");
    finish(deps, db, sequence, [{ enrollment: open, subscriber }], "removed");
  });
}

/** One page of the sequence's enrollments (every status), oldest first, with the total. */
export function listMembers(deps: Deps, sequence: Sequence, page: PageParams) {
  const where = eq(subscriber_sequences.sequence_id, sequence.id);
  const rows = deps.db
    .select({ enrollment: subscriber_sequences, subscriber: { id: subscribers.id, email: subscribers.email } })
    .from(subscriber_sequences)
    .innerJoin(subscribers, eq(subscribers.id, subscriber_sequences.subscriber_id))
    .where(where)
    .orderBy(asc(subscriber_sequences.id))
    .limit(page.limit)
    .offset(page.offset)
    .all();
  return { rows, total: deps.db.select({ n: count() }).from(subscriber_sequences).where(where).get()!.n };
}

type Member = { enrollment: Enrollment; subscriber: Pick<Subscriber, "id" | "email"> };

/** Open enrollments of the sequence standing on one of `stepIds`, with their subscribers. */
function standingOn(db: Db, sequence: Sequence, stepIds: readonly number[]): Member[] {
  return db
    .select({ enrollment: subscriber_sequences, subscriber: { id: subscribers.id, email: subscribers.email } })
    .from(subscriber_sequences)
    .innerJoin(subscribers, eq(subscribers.id, subscriber_sequences.subscriber_id))
    .where(and(eq(subscriber_sequences.sequence_id, sequence.id), inArray(subscriber_sequences.current_step_id, [...stepIds]), OPEN))
    .all();
}

/** Ends open enrollments as `completed` or `removed` (the step stays as it was, nothing is due). */
function finish(deps: Deps, db: Db, sequence: Sequence, members: Member[], status: "completed" | "removed"): void {
  if (members.length === 0) return;
  const now = deps.clock.now();
  const ended = { status, next_trigger_at: null, updated_at: now, ...(status === "completed" ? { completed_at: now } : {}) };
  db.update(subscriber_sequences).set(ended).where(inArray(subscriber_sequences.id, members.map((m) => m.enrollment.id))).run();
  const type: SequenceEventType = status === "completed" ? "sequence.subscriber_completed" : "sequence.subscriber_removed";
  const slug = slugOf(deps, sequence);
  appendEvents(db, deps.clock, members.map((m) => enrollmentEvent(type, slug, sequence, m.subscriber, { ...m.enrollment, status }, {})));
}

/** A redacted subscriber's open enrollments end as `removed`, in every sequence (§3 "enrollments ended"). */
export function removeFromAll(deps: Deps, db: Db, subscriber: Member["subscriber"]): void {
  const open = db.select().from(subscriber_sequences).where(and(eq(subscriber_sequences.subscriber_id, subscriber.id), OPEN)).all();
  for (const sequenceId of new Set(open.map((e) => e.sequence_id))) {
    const sequence = db.select().from(sequences).where(eq(sequences.id, sequenceId)).get()!;
    finish(deps, db, sequence, open.filter((e) => e.sequence_id === sequenceId).map((enrollment) => ({ enrollment, subscriber })), "removed");
  }
}

/** The open enrollments standing on `stepIds` (steps being deleted with nothing after them) complete. */
export function completeEnrollments(deps: Deps, db: Db, sequence: Sequence, stepIds: readonly number[]): void {
  finish(deps, db, sequence, standingOn(db, sequence, stepIds), "completed");
}

/** The open enrollments standing on deleted step `fromId` arrive at `to` now (a wait there starts now). */
export function moveEnrollments(deps: Deps, db: Db, sequence: Sequence, fromId: number, to: SequenceStep): void {
  const now = deps.clock.now();
  const zone = deps.auth.cache.channelById(sequence.channel_id)?.timezone ?? "UTC";
  db.update(subscriber_sequences)
    .set({ current_step_id: to.id, next_trigger_at: arrivalTime(to, now, zone), updated_at: now })
    .where(and(eq(subscriber_sequences.sequence_id, sequence.id), eq(subscriber_sequences.current_step_id, fromId), OPEN))
    .run();
}
