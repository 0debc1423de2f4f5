/**
 * The webhook dispatcher job (docs/api-reference.md §11.2): reads the events appended since its stored position
 * and writes one durable delivery per subscribed active endpoint of the event's channel, in the
 * same transaction as the new position — so each event is dispatched exactly once, also across
 * crashes. Features never call it: they only append events. Statements are prepared once per
 * connection and the stored `data` text is spliced into the body unparsed (this runs for every event).
 */
import type { Database } from "@/db/client";
import { getOrCreateSetting } from "@/db/settings";
import type { Deps } from "@/deps";
import type { Job } from "@/jobs/runner";
import { toIso } from "@/lib/time";

/** Events per transaction: small enough that a batch holds the event loop for a few ms only. */
const BATCH = 100;

interface EventText {
  id: number;
  channel_id: number | null;
  type: string;
  created_at: number;
  occurred_at: number;
  /** The stored JSON text of `data`. */
  data: string;
}
interface ActiveEndpoint {
  id: number;
  channel_id: number;
  event_types: string;
  created_at: number;
}

/** The payload of §11.1, built from the stored `data` text. */
export const webhookBody = (e: { id: number; type: string; created_at: number; occurred_at: number }, dataJson: string) =>
  `{"id":${e.id},"type":${JSON.stringify(e.type)},"created_at":"${toIso(e.created_at)}","occurred_at":"${toIso(e.occurred_at)}","data":${dataJson}}`;

function prepare(database: Database) {
  const raw = database.raw;
  return {
    position: raw.prepare("SELECT value FROM settings WHERE key = 'webhooks_dispatch_position'"),
    savePosition: raw.prepare("UPDATE settings SET value = ?1 WHERE key = 'webhooks_dispatch_position'"),
    active: raw.prepare("SELECT id, channel_id, event_types, created_at FROM webhook_endpoints WHERE active = 1"),
    lastEvent: raw.prepare("SELECT coalesce(max(id), 0) AS id FROM events"),
    events: raw.prepare("SELECT id, channel_id, type, created_at, occurred_at, data FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"),
    insert: raw.prepare("INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, body, status, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)"),
  };
}
const statements = new WeakMap<Database, ReturnType<typeof prepare>>();

/** Dispatches up to BATCH events; true when more are waiting. */
export function dispatchEvents(deps: Deps, now: number): boolean {
  let q = statements.get(deps.database);
  if (!q) statements.set(deps.database, (q = prepare(deps.database)));
  const s = q;
  return deps.db.transaction((tx) => {
    getOrCreateSetting(tx, "webhooks_dispatch_position", () => "0");
    const position = Number((s.position.get() as { value: string }).value);
    const active = s.active.all() as ActiveEndpoint[];
    if (active.length === 0) {
      // Nobody listens: skip what exists (an endpoint receives the events after its creation).
      const last = (s.lastEvent.get() as { id: number }).id;
      if (last > position) s.savePosition.run(String(last));
      return false;
    }
    const byChannel = new Map<number, { id: number; types: Set<string>; created_at: number }[]>();
    for (const e of active) byChannel.set(e.channel_id, [...(byChannel.get(e.channel_id) ?? []), { id: e.id, types: new Set(JSON.parse(e.event_types)), created_at: e.created_at }]);
    const rows = s.events.all(position, BATCH) as EventText[];
    for (const event of rows) {
      let body: string | null = null;
      for (const endpoint of (event.channel_id !== null && byChannel.get(event.channel_id)) || []) {
        if (event.created_at < endpoint.created_at || !endpoint.types.has(event.type)) continue;
        body ??= webhookBody(event, event.data);
        s.insert.run(endpoint.id, event.id, event.type, body, now);
      }
    }
    if (rows.length) s.savePosition.run(String(rows.at(-1)!.id));
    return rows.length === BATCH;
  });
}

/** `pace` is awaited before each batch (jobs/api-load.ts: background work yields to a busy API). */
export const webhookDispatchJob = (deps: Deps, onDispatched: () => void = () => {}, pace: () => Promise<void> = async () => {}): Job => ({
  name: "webhooks.dispatch",
  intervalMs: 1000,
  async tick(now) {
    await pace();
    const more = dispatchEvents(deps, now);
    onDispatched();
    // The runner ticks again at once while there is more: let requests and I/O in between batches.
    if (more) await new Promise((resolve) => setImmediate(resolve));
    return more;
  },
});
