/**
 * The events table (docs/api-reference.md §13, §11.3): every state change appends one row here; the webhooks
 * dispatcher and the /events feed consume it. No feature calls webhooks directly. Events are built
 * with the typed catalogue (catalogue.ts).
 */
import { inArray, lt } from "drizzle-orm";
import { changes, type Db } from "@/db/client";
import { events } from "@/db/schema";
import { retentionJob } from "@/jobs/retention";
import type { Clock } from "@/lib/time";
import type { NewEvent } from "./catalogue";

export { EVENT_TYPES, type EventType } from "./schemas";
export type { NewEvent } from "./catalogue";

/** Appends events (call inside the transaction of the change they describe). */
export function appendEvents(db: Db, clock: Clock, list: readonly NewEvent[]): void {
  if (list.length === 0) return;
  const now = clock.now();
  db.insert(events)
    .values(
      list.map((e) => ({
        channel_id: e.channelId,
        type: e.type,
        created_at: now,
        occurred_at: e.occurredAt ?? now,
        data: e.data,
        subscriber_id: e.subscriberId ?? null,
        email: e.email ?? null,
        broadcast_id: e.broadcastId ?? null,
        transactional_id: e.transactionalId ?? null,
      })),
    )
    .run();
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
