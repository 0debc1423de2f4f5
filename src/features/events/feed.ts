/**
 * The events feed (docs/api-reference.md §13): rows of every channel of T in ascending id, strictly after an
 * opaque cursor (base64url of an event id). One prepared-shape query per page reads `limit + 1`
 * rows by primary key, so a page costs the same at any depth of a large table.
 */
import { and, eq, gt, gte, inArray, like, or, type SQL } from "drizzle-orm";
import { t, type Static } from "elysia";
import type { Db } from "@/db/client";
import { events, type EventRow } from "@/db/schema";
import { f, result } from "@/input/fields";
import { toIso } from "@/lib/time";
import { EVENT_TYPES } from "./schemas";

/** The feed carries every type but `test.webhook` (sent to endpoints only). */
const FEED_TYPES: readonly string[] = EVENT_TYPES.filter((type) => type !== "test.webhook");
const FAMILIES = new Set(FEED_TYPES.map((type) => type.slice(0, type.indexOf("."))));

export const encodeCursor = (id: number) => Buffer.from(String(id)).toString("base64url");

function decodeCursor(v: unknown): number | null {
  if (typeof v !== "string" || !/^[A-Za-z0-9_-]+$/.test(v)) return null;
  const text = Buffer.from(v, "base64url").toString();
  return /^\d{1,15}$/.test(text) && encodeCursor(Number(text)) === v ? Number(text) : null;
}

/** A type filter: exact types and family prefixes (`email.*`). */
export interface TypeFilter {
  exact: string[];
  prefixes: string[];
}

function readTypes(v: unknown) {
  const list = (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === "string" ? x.split(",") : [x]));
  const filter: TypeFilter = { exact: [], prefixes: [] };
  for (const item of list) {
    if (typeof item !== "string") return result.err("must be a comma-separated list of event types");
    const type = item.trim();
    if (type.endsWith(".*") && FAMILIES.has(type.slice(0, -2))) filter.prefixes.push(`${type.slice(0, -1)}`);
    else if (FEED_TYPES.includes(type)) filter.exact.push(type);
    else return result.err(`has an unknown event type: ${type}`);
  }
  return result.ok(filter);
}

export const FeedFilterFields = {
  after: f.custom((v) => {
    const id = decodeCursor(v);
    return id === null ? result.err("is not a valid cursor") : result.ok(id);
  }, { schema: { type: "string", description: "Opaque cursor: the next_cursor of the previous page" } }),
  type: f.custom(readTypes, { schema: { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }], description: "Event types or family prefixes (`email.*`), comma list or type[]" } }),
  email: f.string({ max: 254 }),
  subscriber_id: f.integer({ min: 1 }),
  broadcast_id: f.integer({ min: 1 }),
  transactional_id: f.integer({ min: 1 }),
  since: f.timeFilter(),
};

export interface FeedQuery {
  after?: number;
  type?: TypeFilter;
  email?: string;
  subscriber_id?: number;
  broadcast_id?: number;
  transactional_id?: number;
  since?: number;
}

/** Up to `limit` events of `channelIds` after the cursor, and whether more follow. */
export function readFeed(db: Db, channelIds: readonly number[], q: FeedQuery, limit: number): { rows: EventRow[]; hasMore: boolean } {
  const where: (SQL | undefined)[] = [inArray(events.channel_id, [...channelIds]), gt(events.id, q.after ?? 0)];
  if (q.type) {
    const { exact, prefixes } = q.type;
    where.push(or(...(exact.length ? [inArray(events.type, exact)] : []), ...prefixes.map((p) => like(events.type, `${p}%`))));
  }
  if (q.email !== undefined) where.push(eq(events.email, q.email.toLowerCase()));
  if (q.subscriber_id !== undefined) where.push(eq(events.subscriber_id, q.subscriber_id));
  if (q.broadcast_id !== undefined) where.push(eq(events.broadcast_id, q.broadcast_id));
  if (q.transactional_id !== undefined) where.push(eq(events.transactional_id, q.transactional_id));
  if (q.since !== undefined) where.push(gte(events.created_at, q.since));
  const rows = db.select().from(events).where(and(...where)).orderBy(events.id).limit(limit + 1).all();
  return { rows: rows.slice(0, limit), hasMore: rows.length > limit };
}

export const FeedEventSchema = t.Object(
  { id: t.Integer(), channel: t.Union([t.String(), t.Null()]), type: t.String(), created_at: t.String({ format: "date-time" }), occurred_at: t.String({ format: "date-time" }), data: t.Record(t.String(), t.Unknown()) },
  { additionalProperties: false },
);

export const encodeFeedEvent = (row: EventRow, slug: string | null): Static<typeof FeedEventSchema> => ({
  id: row.id,
  channel: slug,
  type: row.type,
  created_at: toIso(row.created_at)!,
  occurred_at: toIso(row.occurred_at)!,
  data: row.data,
});
