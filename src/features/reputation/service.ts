/**
 * Reputation (docs/api-reference.md §14): per channel × sending domain over the last `days`, the outcome counts
 * kept by triggers in reputation_counts (whole UTC days: the window starts at the day of `from`),
 * the rates as % of `sent`, and the trust score of the formula.
 */
import { and, eq, gte, inArray, sql } from "drizzle-orm";
import { t, type Static } from "elysia";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { reputation_counts } from "@/db/schema";
import type { Deps } from "@/deps";
import { f } from "@/input/fields";
import { Strict } from "@/input/schemas";
import { toIso } from "@/lib/time";

const DAY = 86_400_000;

export const ReputationQueryFields = { days: f.integer({ min: 1, max: 90 }), domain: f.string({ max: 253 }) };

const Counts = { sent: t.Integer(), delivered: t.Integer(), bounced: t.Integer(), failed: t.Integer(), complained: t.Integer(), opened: t.Integer(), clicked: t.Integer() };
const DomainSchema = Strict({
  domain: t.String(),
  channel: t.String(),
  ...Counts,
  delivery_rate: t.Number(),
  bounce_rate: t.Number(),
  complaint_rate: t.Number(),
  failed_rate: t.Number(),
  open_rate: t.Number(),
  click_rate: t.Number(),
  trust_score: t.Integer({ minimum: 0, maximum: 100 }),
  status: t.Union([t.Literal("good"), t.Literal("warning"), t.Literal("critical")]),
  confidence: t.Union([t.Literal("low"), t.Literal("high")]),
});
export const ReputationSchema = Strict({
  period: Strict({ days: t.Integer(), from: t.String({ format: "date-time" }), to: t.String({ format: "date-time" }) }),
  domains: t.Array(DomainSchema),
});
type CountRow = { [K in keyof typeof Counts]: number };

const round = (value: number, places: number) => Math.round(value * 10 ** places) / 10 ** places;

/** The score of §14, from unrounded rates; rounded half up and clamped to 0–100. */
export function trustScore(c: Pick<CountRow, "sent" | "bounced" | "complained" | "failed">): number {
  if (c.sent === 0) return 100;
  // 12 × bounce% = 1200 × bounced / sent (multiplied first: no float drift on exact halves).
  const score = 100 - Math.min(60, (1200 * c.bounced) / c.sent) - Math.min(60, (40_000 * c.complained) / c.sent) - Math.min(20, (200 * c.failed) / c.sent);
  return Math.max(0, Math.min(100, Math.floor(score + 0.5 + 1e-9)));
}

function encodeDomain(domain: string, channel: string, c: CountRow): Static<typeof DomainSchema> {
  const rate = (n: number, places = 2) => (c.sent === 0 ? 0 : round((n * 100) / c.sent, places));
  const score = trustScore(c);
  return {
    domain,
    channel,
    ...c,
    delivery_rate: rate(c.delivered),
    bounce_rate: rate(c.bounced),
    complaint_rate: rate(c.complained, 3),
    failed_rate: rate(c.failed),
    open_rate: rate(c.opened),
    click_rate: rate(c.clicked),
    trust_score: score,
    status: score >= 80 ? "good" : score >= 50 ? "warning" : "critical",
    confidence: c.sent < 100 ? "low" : "high",
  };
}

export function reputation(deps: Deps, channelIds: readonly number[], days: number, domain: string | undefined, now: number): Static<typeof ReputationSchema> {
  const from = now - days * DAY;
  const r = reputation_counts;
  const sum = (col: AnySQLiteColumn) => sql<number>`sum(${col})`.mapWith(Number);
  const rows = deps.db
    .select({ channel_id: r.channel_id, domain: r.domain, sent: sum(r.sent), delivered: sum(r.delivered), bounced: sum(r.bounced), failed: sum(r.failed), complained: sum(r.complained), opened: sum(r.opened), clicked: sum(r.clicked) })
    .from(r)
    .where(and(inArray(r.channel_id, [...channelIds]), gte(r.day, Math.floor(from / DAY)), domain === undefined ? undefined : eq(r.domain, domain.toLowerCase())))
    .groupBy(r.channel_id, r.domain)
    .orderBy(r.channel_id, r.domain)
    .all();
  return {
    period: { days, from: toIso(from)!, to: toIso(now)! },
    domains: rows.map(({ channel_id, domain: d, ...counts }) => encodeDomain(d, deps.auth.cache.slugOf(channel_id) ?? "", counts)),
  };
}
