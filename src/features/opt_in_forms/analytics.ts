/**
 * Form analytics (docs/api-reference.md §10): the hosted page records views (unique per UTC day by a hash of IP and
 * user agent) and accepted submissions in one counter row per form and day; the analytics route
 * and the form's `analytics` totals read those rows. Viewer hashes of earlier days are pruned as
 * the form is viewed, so only today's are kept.
 */
import { createHash } from "node:crypto";
import { and, eq, gte, inArray, lt, lte, or, sql } from "drizzle-orm";
import { opt_in_form_days, opt_in_form_visitors, opt_in_forms, type OptInForm } from "@/db/schema";
import type { Deps } from "@/deps";
import { result } from "@/input/fields";

const DAY = 86_400_000;
export const MAX_RANGE_DAYS = 366;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** An ISO date (`YYYY-MM-DD`) → the UTC midnight it starts at. */
export const readDate = (v: unknown) => {
  const ms = typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
  return Number.isNaN(ms) || dayOf(ms) !== v ? result.err("is not a valid date (YYYY-MM-DD)") : result.ok(ms);
};

function bump(deps: Deps, formId: number, day: string, counts: { views?: number; unique_views?: number; submissions?: number }) {
  const d = opt_in_form_days;
  deps.db
    .insert(d)
    .values({ form_id: formId, day, ...counts })
    .onConflictDoUpdate({
      target: [d.form_id, d.day],
      set: { views: sql`${d.views} + excluded.views`, unique_views: sql`${d.unique_views} + excluded.unique_views`, submissions: sql`${d.submissions} + excluded.submissions` },
    })
    .run();
}

/** Counts a view of the hosted page; unique when this IP + user agent has not viewed it today. */
export function recordView(deps: Deps, formId: number, ip: string, userAgent: string, now: number): void {
  const day = dayOf(now);
  const visitor = createHash("sha256").update(`${ip}\n${userAgent}`).digest("base64url").slice(0, 22);
  deps.db.transaction((tx) => {
    tx.delete(opt_in_form_visitors).where(and(eq(opt_in_form_visitors.form_id, formId), lt(opt_in_form_visitors.day, day))).run();
    const fresh = tx.insert(opt_in_form_visitors).values({ form_id: formId, day, visitor }).onConflictDoNothing().returning().all().length;
    bump(deps, formId, day, { views: 1, unique_views: fresh });
  });
}

export const recordSubmission = (deps: Deps, formId: number, now: number) => bump(deps, formId, dayOf(now), { submissions: 1 });

const rate = (submissions: number, uniqueViews: number) => (uniqueViews ? Math.round((submissions / uniqueViews) * 10_000) / 100 : 0);

export interface FormTotals {
  views_count: number;
  unique_views_count: number;
  submissions_count: number;
  conversion_rate: number;
}

/**
 * All-time totals of the given forms (absent = never viewed): a top-level form's include its
 * variants', a variant's are its own.
 */
export function formTotals(deps: Deps, ids: number[]): Map<number, FormTotals> {
  if (!ids.length) return new Map();
  const d = opt_in_form_days;
  const f = opt_in_forms;
  const owner = sql<number>`CASE WHEN ${inArray(f.id, ids)} THEN ${f.id} ELSE ${f.parent_form_id} END`;
  const rows = deps.db
    .select({ id: owner, views: sql<number>`sum(${d.views})`, unique: sql<number>`sum(${d.unique_views})`, submissions: sql<number>`sum(${d.submissions})` })
    .from(d)
    .innerJoin(f, eq(f.id, d.form_id))
    .where(or(inArray(f.id, ids), inArray(f.parent_form_id, ids)))
    .groupBy(owner)
    .all();
  return new Map(rows.map((r) => [r.id, { views_count: r.views, unique_views_count: r.unique, submissions_count: r.submissions, conversion_rate: rate(r.submissions, r.unique) }]));
}

type Counts = { views: number; unique_views: number; submissions: number };

/**
 * GET /opt_in_forms/:id/analytics: every day of [start, end] (UTC) and the totals — of the form and
 * its `variants` together — and each variant's own numbers.
 */
export function formAnalytics(deps: Deps, form: OptInForm, variants: OptInForm[], start: number, end: number) {
  const d = opt_in_form_days;
  const ids = [form.id, ...variants.map((v) => v.id)];
  const rows = deps.db.select().from(d).where(and(inArray(d.form_id, ids), gte(d.day, dayOf(start)), lte(d.day, dayOf(end)))).all();
  const add = (map: Map<string | number, Counts>, key: string | number, r: Counts) => {
    const c = map.get(key) ?? { views: 0, unique_views: 0, submissions: 0 };
    map.set(key, { views: c.views + r.views, unique_views: c.unique_views + r.unique_views, submissions: c.submissions + r.submissions });
  };
  const byDay = new Map<string | number, Counts>();
  const byForm = new Map<string | number, Counts>();
  for (const r of rows) {
    add(byDay, r.day, r);
    add(byForm, r.form_id, r);
  }
  const daily: ({ date: string } & Counts)[] = [];
  for (let ms = start; ms <= end; ms += DAY) daily.push({ date: dayOf(ms), views: 0, unique_views: 0, submissions: 0, ...byDay.get(dayOf(ms)) });
  const sum = (k: keyof Counts) => daily.reduce((n, x) => n + x[k], 0);
  return {
    form_id: form.id,
    start_date: dayOf(start),
    end_date: dayOf(end),
    totals: { views: sum("views"), unique_views: sum("unique_views"), submissions: sum("submissions"), conversion_rate: rate(sum("submissions"), sum("unique_views")) },
    daily,
    variants: variants.map((v) => {
      const c = byForm.get(v.id) ?? { views: 0, unique_views: 0, submissions: 0 };
      return { id: v.id, variant_name: v.variant_name ?? "", variant_weight: v.variant_weight ?? 0, views: c.views, submissions: c.submissions, conversion_rate: rate(c.submissions, c.unique_views) };
    }),
  };
}

/** The default range: the last 30 days up to today. */
export const defaultRange = (now: number) => {
  const end = Date.parse(`${dayOf(now)}T00:00:00Z`);
  return { start: end - 29 * DAY, end };
};
export const rangeDays = (start: number, end: number) => Math.round((end - start) / DAY) + 1;
