/**
 * The events table (docs/api-reference.md §13, §11.3): every state change appends one row here; the webhooks
 * dispatcher and the /events feed consume it. No feature calls webhooks directly. Events are built
 * with the typed catalogue (catalogue.ts).
 */
import { inArray, lt, sql } from "drizzle-orm";
import { changes, perConnection, type Db } from "@/db/client";
import { events } from "@/db/schema";
import { retentionJob } from "@/jobs/retention";
import type { Clock } from "@/lib/time";
import type { NewEvent } from "./catalogue";

export { EVENT_TYPES, type EventType } from "./schemas";
export type { NewEvent } from "./catalogue";

// One prepared single-row insert per connection, run per event: a multi-row insert built per call cost ~27 µs an event, this ~9.
const insertEvent = perConnection((db: Db) => {
  const p = (name: string) => sql.placeholder(name);
  const row = { channel_id: p("channel"), type: p("type"), created_at: p("now"), occurred_at: p("occurred"), data: p("data"), subscriber_id: p("subscriber"), email: p("email"), broadcast_id: p("broadcast"), transactional_id: p("transactional") };
  return db.insert(events).values(row).prepare();
});

/** Appends events (call inside the transaction of the change they describe). */
export function appendEvents(db: Db, clock: Clock, list: readonly NewEvent[]): void {
  if (list.length === 0) return;
  const now = clock.now();
  const insert = insertEvent(db);
  for (const e of list) {
    insert.run({
      channel: e.channelId,
      type: e.type,
      now,
      occurred: e.occurredAt ?? now,
      data: e.data,
      subscriber: e.subscriberId ?? null,
      email: e.email ?? null,
      broadcast: e.broadcastId ?? null,
      transactional: e.transactionalId ?? null,
    });
  }
}

export const appendEvent = (db: Db, clock: Clock, e: NewEvent) => appendEvents(db, clock, [e]);

/** Deletes up to `batch` events older than `retentionDays` (MAILROOM_EVENT_RETENTION_DAYS); returns how many. */
export function pruneEvents(db: Db, now: number, retentionDays: number, batch: number): number {
  const cutoff = now - retentionDays * 24 * 60 * 60 * 1000;
  const old = db.select({ id: events.id }).from(events).where(lt(events.created_at, cutoff)).orderBy(events.id).limit(batch);
  return changes(db.delete(events).where(inArray(events.id, old)).run());
}

/** Events are kept MAILROOM_EVENT_RETENTION_DAYS (§20). */
export const eventRetentionJob = (db: Db, retentionDays: number) =>
  retentionJob("events.retention", (now, batch) => pruneEvents(db, now, retentionDays, batch));
