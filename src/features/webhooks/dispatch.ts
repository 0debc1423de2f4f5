/**
 * The webhook dispatcher job (API.md §11.2): reads the events appended since its stored position
 * and writes one durable delivery per subscribed active endpoint of the event's channel, in the
 * same transaction as the new position — so each event is dispatched exactly once, also across
 * crashes. Features never call it: they only append events.
 */
import { eq, gt, max } from "drizzle-orm";
import type { Db } from "@/db/client";
import { events, settings, webhook_deliveries, webhook_endpoints, type EventRow, type WebhookEndpoint } from "@/db/schema";
import type { Deps } from "@/deps";
import { getOrCreateSetting } from "@/db/settings";
import type { Job } from "@/jobs/runner";
import { toIso } from "@/lib/time";

const BATCH = 1000;
const INSERT_CHUNK = 500;

/** The payload of §11.1, stored as sent. */
export const webhookBody = (e: Pick<EventRow, "id" | "type" | "created_at" | "occurred_at" | "data">) =>
  JSON.stringify({ id: e.id, type: e.type, created_at: toIso(e.created_at), occurred_at: toIso(e.occurred_at), data: e.data });

/** Dispatches up to BATCH events; true when more are waiting. */
export function dispatchEvents(db: Db, now: number): boolean {
  return db.transaction((tx) => {
    const position = Number(getOrCreateSetting(tx, "webhooks_dispatch_position", () => "0"));
    const active = tx.select().from(webhook_endpoints).where(eq(webhook_endpoints.active, true)).all();
    if (active.length === 0) {
      // Nobody listens: skip what exists (an endpoint receives the events after its creation).
      const last = tx.select({ id: max(events.id) }).from(events).get()?.id ?? 0;
      if (last > position) savePosition(tx, last);
      return false;
    }
    const byChannel = new Map<number, WebhookEndpoint[]>();
    for (const e of active) byChannel.set(e.channel_id, [...(byChannel.get(e.channel_id) ?? []), e]);
    const rows = tx.select().from(events).where(gt(events.id, position)).orderBy(events.id).limit(BATCH).all();
    const deliveries: (typeof webhook_deliveries.$inferInsert)[] = [];
    for (const event of rows) {
      if (event.channel_id === null) continue;
      let body: string | null = null;
      for (const endpoint of byChannel.get(event.channel_id) ?? []) {
        if (event.created_at < endpoint.created_at || !endpoint.event_types.includes(event.type)) continue;
        body ??= webhookBody(event);
        deliveries.push({ endpoint_id: endpoint.id, event_id: event.id, event_type: event.type, body, status: "pending", next_attempt_at: now, created_at: now });
      }
    }
    for (let i = 0; i < deliveries.length; i += INSERT_CHUNK) tx.insert(webhook_deliveries).values(deliveries.slice(i, i + INSERT_CHUNK)).run();
    if (rows.length) savePosition(tx, rows.at(-1)!.id);
    return rows.length === BATCH;
  });
}

function savePosition(tx: Db, id: number): void {
  tx.update(settings).set({ value: String(id) }).where(eq(settings.key, "webhooks_dispatch_position")).run();
}

export const webhookDispatchJob = (deps: Deps, onDispatched: () => void = () => {}): Job => ({
  name: "webhooks.dispatch",
  intervalMs: 1000,
  tick(now) {
    const more = dispatchEvents(deps.db, now);
    onDispatched();
    return more;
  },
});
