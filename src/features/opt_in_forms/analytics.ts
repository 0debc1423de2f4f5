/**
 * Form analytics (API.md §10): the hosted page records views (unique per UTC day by a hash of IP and
 * user agent) and accepted submissions in one counter row per form and day; the analytics route
 * and the form's `analytics` totals read those rows. Viewer hashes of earlier days are pruned as
 * the form is viewed, so only today's are kept.
 */
import { createHash } from "node:crypto";
import { and, eq, gte, inArray, lt, lte, sql } from "drizzle-orm";
import { opt_in_form_days, opt_in_form_visitors } from "@/db/schema";
import type { Deps } from "@/deps";
import { result } from "@/http/fields";

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

/** All-time totals of the given forms (absent = never viewed). */
export function formTotals(deps: Deps, ids: number[]): Map<number, FormTotals> {
  const d = opt_in_form_days;
  const rows = ids.length
    ? deps.db
        .select({ id: d.form_id, views: sql<number>`sum(${d.views})`, unique: sql<number>`sum(${d.unique_views})`, submissions: sql<number>`sum(${d.submissions})` })
        .from(d)
        .where(inArray(d.form_id, ids))
        .groupBy(d.form_id)
        .all()
    : [];
  return new Map(rows.map((r) => [r.id, { views_count: r.views, unique_views_count: r.unique, submissions_count: r.submissions, conversion_rate: rate(r.submissions, r.unique) }]));
}

/** GET /opt_in_forms/:id/analytics: every day of [start, end] (UTC), the totals, and no variants (not in this version). */
export function formAnalytics(deps: Deps, formId: number, start: number, end: number) {
  const d = opt_in_form_days;
  const rows = deps.db.select().from(d).where(and(eq(d.form_id, formId), gte(d.day, dayOf(start)), lte(d.day, dayOf(end)))).all();
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const daily: { date: string; views: number; unique_views: number; submissions: number }[] = [];
  for (let ms = start; ms <= end; ms += DAY) {
    const r = byDay.get(dayOf(ms));
    daily.push({ date: dayOf(ms), views: r?.views ?? 0, unique_views: r?.unique_views ?? 0, submissions: r?.submissions ?? 0 });
  }
  const sum = (k: "views" | "unique_views" | "submissions") => daily.reduce((n, x) => n + x[k], 0);
  return {
    form_id: formId,
    start_date: dayOf(start),
    end_date: dayOf(end),
    totals: { views: sum("views"), unique_views: sum("unique_views"), submissions: sum("submissions"), conversion_rate: rate(sum("submissions"), sum("unique_views")) },
    daily,
    variants: [] as never[],
  };
}

/** The default range: the last 30 days up to today. */
export const defaultRange = (now: number) => {
  const end = Date.parse(`${dayOf(now)}T00:00:00Z`);
  return { start: end - 29 * DAY, end };
};
export const rangeDays = (start: number, end: number) => Math.round((end - start) / DAY) + 1;
