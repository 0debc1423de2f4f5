/**
 * GET /subscribers (docs/api-reference.md §3): page-style list over T with typed filters, sent in both envelopes
 * (`subscribers`+`pagination` for the SDKs, `data`+`meta` for seed 001). The unfiltered page is
 * two prepared statements: an index walk of (channel_id, id) and the trigger-maintained
 * `subscriber_counts` (an exact COUNT(*) over 1M rows takes ~30 ms); filtered lists count exactly.
 */
import { and, asc, count, eq, gte, inArray, isNotNull, isNull, lte, sql, type SQL } from "drizzle-orm";
import type { Scope } from "@/auth/scope";
import { subscriber_counts, subscribers, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { perConnection, type Db } from "@/db/client";
import { f, result, withWarnings, type FieldValues } from "@/input/fields";
import { pagination, type PageParams } from "@/input/pagination";
import { encodeSubscriber } from "./model";

const ph = sql.placeholder;
const inChannels = sql`${subscribers.channel_id} IN (SELECT value FROM json_each(${ph("channels")}))`;

function prepare(db: Db) {
  // One channel (the usual case): the OFFSET walk stays inside the covering (channel_id, id) index
  // and only the 250 rows of the page are read (~13 ms instead of ~90 ms at offset 500k of 1M).
  const idsOfPage = db
    .select({ id: subscribers.id })
    .from(subscribers)
    .where(eq(subscribers.channel_id, ph("channel")))
    .orderBy(asc(subscribers.id))
    .limit(ph("limit"))
    .offset(ph("offset"));
  return {
    pageOne: db.select().from(subscribers).where(inArray(subscribers.id, idsOfPage)).orderBy(asc(subscribers.id)).prepare(),
    page: db.select().from(subscribers).where(inChannels).orderBy(asc(subscribers.id)).limit(ph("limit")).offset(ph("offset")).prepare(),
    total: db
      .select({ n: sql<number>`coalesce(sum(${subscriber_counts.total}), 0)` })
      .from(subscriber_counts)
      .where(sql`${subscriber_counts.channel_id} IN (SELECT value FROM json_each(${ph("channels")}))`)
      .prepare(),
  };
}
const statements = perConnection(prepare);

const oneOf = <const T extends string>(values: readonly T[]) => f.enum(values, { message: `must be one of: ${values.join(", ")}` });
const text = () => f.string({ trim: false });

/** Tag filter: an array, or a comma string (`tags=a,b`), of tags. */
const tagList = f.custom(
  (v) => {
    const list = (Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : null)?.map((t) => (typeof t === "string" ? t.trim() : t));
    if (!list || list.some((t) => typeof t !== "string")) return result.err("must be an array of strings");
    return result.ok([...new Set(list as string[])].filter((t) => t !== ""));
  },
  { schema: { anyOf: [{ type: "array", items: { type: "string" } }, { type: "string" }] } },
);

/** `custom_data[key]=value`: top-level keys compared as strings. */
const customDataFilter = f.custom(
  (v, at) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return result.err("must be an object of key=value pairs (custom_data[key]=value)");
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(v)) {
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") (at.errors[`${at.param}.${key}`] ??= []).push("must be a string");
      else out[key] = String(value);
    }
    return result.ok(out);
  },
  { schema: { type: "object", additionalProperties: { type: "string" } } },
);

/** The §3 list filters (an empty value is no filter). */
export const SubscriberListFilters = {
  is_active: f.boolean(),
  source: text(),
  created_after: f.timeFilter(),
  created_before: f.timeFilter(),
  subscribed_after: f.timeFilter(),
  subscribed_before: f.timeFilter(),
  tags: tagList,
  tag_match_type: oneOf(["all", "any"]),
  email: text(),
  email_contains: text(),
  confirmation_status: oneOf(["confirmed", "pending", "unconfirmed"]),
  subscription_status: oneOf(["subscribed", "unsubscribed", "active", "inactive"]),
  custom_data: customDataFilter,
};
export type SubscriberFilters = FieldValues<typeof SubscriberListFilters, true>;

/** The SQL conditions of the §3 list filters. */
export function listFilters(filters: SubscriberFilters, channelIds: readonly number[]): SQL[] {
  const where: SQL[] = [];
  if (filters.is_active !== undefined) where.push(eq(subscribers.is_active, filters.is_active));
  if (filters.source !== undefined) where.push(eq(subscribers.source, filters.source));
  for (const [k, column, op] of [
    ["created_after", subscribers.created_at, gte],
    ["created_before", subscribers.created_at, lte],
    ["subscribed_after", subscribers.subscribed_at, gte],
    ["subscribed_before", subscribers.subscribed_at, lte],
  ] as const) {
    const ms = filters[k];
    if (ms !== undefined) where.push(op(column, ms));
  }
  const email = filters.email_contains ?? filters.email;
  if (email !== undefined) where.push(sql`instr(${subscribers.email}, ${email.trim().toLowerCase()}) > 0`);
  const tags = filters.tags ?? [];
  // `id IN (…)` over the (channel_id, tag, subscriber_id) index lets SQLite drive the query from
  // the tagged ids (rowid lookups, already in id order) instead of probing every subscriber.
  const has = (tagSql: SQL) => sql`${subscribers.id} IN (SELECT st.subscriber_id FROM subscriber_tags st WHERE ${inArray(sql`st.channel_id`, [...channelIds])} AND ${tagSql})`;
  if (tags.length > 0 && filters.tag_match_type === "any") where.push(has(sql`st.tag IN (${sql.join(tags.map((t) => sql`${t}`), sql`, `)})`));
  else for (const t of tags) where.push(has(sql`st.tag = ${t}`));
  switch (filters.confirmation_status) {
    case "confirmed": where.push(isNotNull(subscribers.confirmed_at)); break;
    case "pending": where.push(isNull(subscribers.confirmed_at), isNotNull(subscribers.confirmation_sent_at)); break;
    case "unconfirmed": where.push(isNull(subscribers.confirmed_at), isNull(subscribers.confirmation_sent_at)); break;
  }
  switch (filters.subscription_status) {
    case "subscribed": where.push(isNull(subscribers.unsubscribed_at)); break;
    case "unsubscribed": where.push(isNotNull(subscribers.unsubscribed_at)); break;
    case "active": where.push(eq(subscribers.is_active, true), isNull(subscribers.unsubscribed_at)); break;
    case "inactive": where.push(eq(subscribers.is_active, false)); break;
  }
  for (const [key, value] of Object.entries(filters.custom_data ?? {})) {
    // String equality on a top-level key; json_each avoids JSON-path quoting of arbitrary keys.
    where.push(sql`EXISTS (SELECT 1 FROM json_each(${subscribers.custom_data}) je WHERE je.key = ${key}
      AND (CASE je.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(je.atom AS TEXT) END) = ${value})`);
  }
  return where;
}

/** One page of the subscribers of T matching `filters`, in both envelopes. */
export function listSubscribers(deps: Deps, scope: Scope, filters: SubscriberFilters, page: PageParams) {
  const ids = [...scope.channelIds];
  const where = listFilters(filters, ids);
  let rows: Subscriber[];
  let total: number;
  if (where.length === 0) {
    const q = statements(deps.db);
    const channels = JSON.stringify(ids);
    rows =
      ids.length === 1
        ? q.pageOne.all({ channel: ids[0], limit: page.limit, offset: page.offset })
        : q.page.all({ channels, limit: page.limit, offset: page.offset });
    total = q.total.get({ channels })!.n;
  } else {
    const cond = and(inArray(subscribers.channel_id, ids), ...where);
    rows = deps.db.select().from(subscribers).where(cond).orderBy(asc(subscribers.id)).limit(page.limit).offset(page.offset).all();
    total = rows.length < page.limit && (rows.length > 0 || page.offset === 0) ? page.offset + rows.length : deps.db.select({ n: count() }).from(subscribers).where(cond).get()!.n;
  }
  const slugs = new Map(ids.map((id) => [id, scope.channel(id)?.slug ?? ""]));
  const data = rows.map((r) => encodeSubscriber(r, slugs.get(r.channel_id)!));
  const p = pagination(total, data.length, page);
  const body = {
    subscribers: data,
    pagination: p,
    data,
    meta: { current_page: p.current, total_pages: p.total_pages, total_count: p.total, per_page: p.per_page },
  };
  return withWarnings(body, page.warnings);
}
