/**
 * How sequences react to subscriber changes (docs/api-reference.md §6), wired as the subscribers'
 * hooks in boot.ts and run inside the change's transaction:
 * - a tag added anywhere (API, import, forms, steps) enrolls an eligible subscriber in every active
 *   sequence of the channel with that `init_tag`; confirming double opt-in counts as adding the
 *   subscriber's tags (a pending subscriber could not be enrolled when they were added);
 * - deactivating pauses the subscriber's active enrollments (`next_trigger_at` kept), activating
 *   resumes them, due no earlier than now;
 * - a form's `sequence_ids` enroll an eligible subscriber in those that are active.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { perConnection, type Db } from "@/db/client";
import { sequences, subscriber_sequences, type Channel, type Sequence, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { appendEvents } from "@/features/events/service";
import { isEligible } from "@/features/subscribers/eligibility";
import type { SubscriberHooks } from "@/features/subscribers/hooks";
import { enroll, enrollmentEvent, reentryTooSoon } from "./enrollment";
import { removeFromAll } from "./members";

const ph = sql.placeholder;
// Prepared once per connection (tag changes are frequent: imports, API, steps).
const byInitTag = perConnection((db: Db) =>
  db
    .select()
    .from(sequences)
    .where(and(eq(sequences.channel_id, ph("channel")), eq(sequences.active, true), sql`${sequences.init_tag} IN (SELECT value FROM json_each(${ph("tags")}))`))
    .prepare(),
);

function sequencesStartedBy(deps: Deps, channelId: number, tags: readonly string[]): Sequence[] {
  return byInitTag(deps.db).all({ channel: channelId, tags: JSON.stringify(tags) });
}

/** Tags `after` has that count as newly added: new ones, or all of them when a pending double opt-in was just confirmed. */
function addedTags(before: Subscriber | null, after: Subscriber): string[] {
  const confirmedNow = before && before.confirmation_sent_at !== null && before.confirmed_at === null && after.confirmed_at !== null;
  if (confirmedNow) return after.tags;
  const had = new Set(before?.tags ?? []);
  return after.tags.filter((t) => !had.has(t));
}

function enrollAll(deps: Deps, db: Db, channel: Channel, subscriber: Subscriber, list: readonly Sequence[]): void {
  if (list.length === 0 || !isEligible(db, subscriber)) return;
  const now = deps.clock.now();
  for (const sequence of list) {
    if (!reentryTooSoon(db, sequence.id, subscriber.id, now)) enroll(db, deps.clock, channel.slug, sequence, subscriber);
    else deps.log.warn("sequence.reentry_skipped", { sequence_id: sequence.id, subscriber_id: subscriber.id });
  }
}

/** Pauses (`active` → `paused`) or resumes (`paused` → `active`, due no earlier than now) the subscriber's enrollments. */
function setPaused(deps: Deps, db: Db, channel: Channel, subscriber: Subscriber, paused: boolean): void {
  const now = deps.clock.now();
  const rows = db
    .update(subscriber_sequences)
    .set({
      status: paused ? "paused" : "active",
      ...(paused ? {} : { next_trigger_at: sql`max(coalesce(${subscriber_sequences.next_trigger_at}, ${now}), ${now})` }),
      updated_at: now,
    })
    .where(and(eq(subscriber_sequences.subscriber_id, subscriber.id), eq(subscriber_sequences.status, paused ? "active" : "paused")))
    .returning()
    .all();
  if (rows.length === 0) return;
  const byId = new Map(db.select().from(sequences).where(inArray(sequences.id, [...new Set(rows.map((r) => r.sequence_id))])).all().map((s) => [s.id, s]));
  const type = paused ? "sequence.subscriber_paused" : "sequence.subscriber_resumed";
  appendEvents(db, deps.clock, rows.map((e) => enrollmentEvent(type, channel.slug, byId.get(e.sequence_id)!, subscriber, e, {})));
}

export const sequenceHooks: SubscriberHooks = {
  changed(deps, db, channel, before, after) {
    if (before && before.redacted_at === null && after.redacted_at !== null) return removeFromAll(deps, db, after);
    const tags = addedTags(before, after);
    if (tags.length) enrollAll(deps, db, channel, after, sequencesStartedBy(deps, channel.id, tags));
    if (before && before.is_active !== after.is_active) setPaused(deps, db, channel, after, !after.is_active);
  },
  enroll(deps, db, channel, subscriber, sequenceIds) {
    if (sequenceIds.length === 0) return;
    const list = db.select().from(sequences).where(and(eq(sequences.channel_id, channel.id), eq(sequences.active, true), inArray(sequences.id, [...sequenceIds]))).all();
    enrollAll(deps, db, channel, subscriber, list);
  },
};
