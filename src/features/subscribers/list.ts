/**
 * GET /subscribers (API.md §3): page-style list over T with filters, sent in both envelopes
 * (`subscribers`+`pagination` for the SDKs, `data`+`meta` for seed 001). The unfiltered page is
 * two prepared statements: an index walk of (channel_id, id) and the trigger-maintained
 * `subscriber_counts` (an exact COUNT(*) over 1M rows takes ~30 ms); filtered lists count exactly.
 */
import { and, asc, count, eq, gte, inArray, isNotNull, isNull, lte, sql, type SQL } from "drizzle-orm";
import type { Scope } from "@/auth/scope";
import { subscriber_counts, subscribers, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import type { Db } from "@/db/client";
import type { Input } from "@/http/compat";
import { validationError, type FieldErrors } from "@/lib/errors";
import { coerceBoolean, IGNORED_TIME, unrecognizedKeys, type Warning } from "@/http/fields";
import { pageParams, pagination } from "@/http/pagination";
import { parseIsoTime } from "@/lib/time";
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
const cache = new WeakMap<Db, ReturnType<typeof prepare>>();

const FILTERS = [
  "is_active", "source", "created_after", "created_before", "subscribed_after", "subscribed_before", "tags", "tag_match_type",
  "email", "email_contains", "confirmation_status", "subscription_status", "custom_data",
] as const;

/** The SQL conditions of the §3 list filters. @throws 422 on bad values of known filters. */
export function listFilters(input: Input, warnings: Warning[], channelIds: readonly number[]): SQL[] {
  const errors: FieldErrors = {};
  const where: SQL[] = [];
  const str = (k: string): string | undefined => {
    const v = input[k];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "string" || typeof v === "number") return String(v);
    (errors[k] ??= []).push("must be a string");
  };
  const oneOf = <T extends string>(k: string, values: readonly T[]): T | undefined => {
    const v = str(k);
    if (v !== undefined && !(values as readonly string[]).includes(v)) (errors[k] ??= []).push(`must be one of: ${values.join(", ")}`);
    else return v as T | undefined;
  };

  if (input.is_active !== undefined && input.is_active !== "") {
    const b = coerceBoolean(input.is_active);
    if (b === null) errors.is_active = ["must be true or false"];
    else where.push(eq(subscribers.is_active, b));
  }
  const source = str("source");
  if (source !== undefined) where.push(eq(subscribers.source, source));
  for (const [k, column, op] of [
    ["created_after", subscribers.created_at, gte],
    ["created_before", subscribers.created_at, lte],
    ["subscribed_after", subscribers.subscribed_at, gte],
    ["subscribed_before", subscribers.subscribed_at, lte],
  ] as const) {
    if (input[k] === undefined || input[k] === "") continue;
    const ms = parseIsoTime(input[k]);
    if (ms === null) warnings.push({ code: "parameter_ignored", param: k, message: `${k} ${IGNORED_TIME}` });
    else where.push(op(column, ms));
  }
  const email = str("email_contains") ?? str("email");
  if (email !== undefined) where.push(sql`instr(${subscribers.email}, ${email.trim().toLowerCase()}) > 0`);
  const tagMatch = oneOf("tag_match_type", ["all", "any"] as const) ?? "all";
  const rawTags = input.tags;
  if (rawTags !== undefined && rawTags !== "") {
    const list = (Array.isArray(rawTags) ? rawTags : typeof rawTags === "string" ? rawTags.split(",") : null)?.map((t) => (typeof t === "string" ? t.trim() : t));
    if (!list || list.some((t) => typeof t !== "string")) errors.tags = ["must be an array of strings"];
    else {
      const tags = [...new Set(list as string[])].filter((t) => t !== "");
      // `id IN (…)` over the (channel_id, tag, subscriber_id) index lets SQLite drive the query from
      // the tagged ids (rowid lookups, already in id order) instead of probing every subscriber.
      const has = (tagSql: SQL) => sql`${subscribers.id} IN (SELECT st.subscriber_id FROM subscriber_tags st WHERE ${inArray(sql`st.channel_id`, [...channelIds])} AND ${tagSql})`;
      if (tags.length > 0 && tagMatch === "any") where.push(has(sql`st.tag IN (${sql.join(tags.map((t) => sql`${t}`), sql`, `)})`));
      else for (const t of tags) where.push(has(sql`st.tag = ${t}`));
    }
  }
  switch (oneOf("confirmation_status", ["confirmed", "pending", "unconfirmed"] as const)) {
    case "confirmed": where.push(isNotNull(subscribers.confirmed_at)); break;
    case "pending": where.push(isNull(subscribers.confirmed_at), isNotNull(subscribers.confirmation_sent_at)); break;
    case "unconfirmed": where.push(isNull(subscribers.confirmed_at), isNull(subscribers.confirmation_sent_at)); break;
  }
  switch (oneOf("subscription_status", ["subscribed", "unsubscribed", "active", "inactive"] as const)) {
    case "subscribed": where.push(isNull(subscribers.unsubscribed_at)); break;
    case "unsubscribed": where.push(isNotNull(subscribers.unsubscribed_at)); break;
    case "active": where.push(eq(subscribers.is_active, true), isNull(subscribers.unsubscribed_at)); break;
    case "inactive": where.push(eq(subscribers.is_active, false)); break;
  }
  const custom = input.custom_data;
  if (custom !== undefined && custom !== "") {
    if (custom === null || typeof custom !== "object" || Array.isArray(custom)) errors.custom_data = ["must be an object of key=value pairs (custom_data[key]=value)"];
    else {
      for (const [key, value] of Object.entries(custom)) {
        if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
          (errors[`custom_data.${key}`] ??= []).push("must be a string");
          continue;
        }
        // String equality on a top-level key; json_each avoids JSON-path quoting of arbitrary keys.
        where.push(sql`EXISTS (SELECT 1 FROM json_each(${subscribers.custom_data}) je WHERE je.key = ${key}
          AND (CASE je.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(je.atom AS TEXT) END) = ${String(value)})`);
      }
    }
  }
  if (Object.keys(errors).length > 0) throw validationError(errors);
  warnings.push(...unrecognizedKeys(input, FILTERS));
  return where;
}

/** One page of the subscribers of T, both envelopes, plus warnings. */
export function listSubscribers(deps: Deps, scope: Scope, input: Input) {
  const page = pageParams(input);
  const warnings = [...page.warnings];
  const ids = [...scope.channelIds];
  const where = listFilters(input, warnings, ids);
  let rows: Subscriber[];
  let total: number;
  if (where.length === 0) {
    let q = cache.get(deps.db);
    if (!q) cache.set(deps.db, (q = prepare(deps.db)));
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
  return warnings.length ? { ...body, warnings } : body;
}
