/**
 * Statistics of a broadcast (§5): delivery from its outbox rows (status counts over the index
 * messages(broadcast_id, status); aborted rows never count), engagement and issues from its events
 * (index events(broadcast_id, type, subscriber_id, occurred_at): counts and distinct subscribers
 * read from the index alone). Rates are % of `sent`, 2 decimals.
 */
import type { Broadcast } from "@/db/schema";
import type { Deps } from "@/deps";
import { validationError } from "@/lib/errors";
import { toIso } from "@/lib/time";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Timeframe → [window, interval]. */
export const TIMEFRAMES: Record<string, [number, number]> = {
  "60m": [HOUR, 5 * MINUTE],
  "120m": [2 * HOUR, 10 * MINUTE],
  "3h": [3 * HOUR, 15 * MINUTE],
  "6h": [6 * HOUR, 30 * MINUTE],
  "12h": [12 * HOUR, HOUR],
  "18h": [18 * HOUR, HOUR],
  "24h": [24 * HOUR, HOUR],
  "48h": [48 * HOUR, 2 * HOUR],
  "72h": [72 * HOUR, 3 * HOUR],
  "7d": [168 * HOUR, 6 * HOUR],
  "14d": [336 * HOUR, 12 * HOUR],
};
/** Timeline metric → the event type it counts. */
export const METRICS = {
  opens: "email.opened",
  clicks: "email.clicked",
  delivered: "email.delivered",
  bounces: "email.bounced",
  unsubscribes: "subscriber.unsubscribed",
  complaints: "email.complained",
} as const;
export type Metric = keyof typeof METRICS;

function prepare(deps: Deps) {
  const raw = deps.database.raw;
  return {
    statuses: raw.prepare("SELECT status, count(*) AS n FROM messages WHERE broadcast_id = ?1 GROUP BY status"),
    aborted: raw.prepare("SELECT count(*) AS n FROM messages WHERE broadcast_id = ?1 AND status = 'failed' AND failure_reason = 'aborted'"),
    events: raw.prepare("SELECT count(*) AS n, count(DISTINCT subscriber_id) AS u FROM events WHERE broadcast_id = ?1 AND type = ?2"),
    buckets: raw.prepare(
      "SELECT (occurred_at - ?3) / ?4 AS b, count(*) AS n FROM events WHERE broadcast_id = ?1 AND type = ?2 AND occurred_at >= ?3 AND occurred_at < ?5 GROUP BY b",
    ),
    clicksByUrl: raw.prepare(
      "SELECT json_extract(data, '$.url') AS url, count(*) AS clicks, count(DISTINCT subscriber_id) AS unique_clicks FROM events WHERE broadcast_id = ?1 AND type = 'email.clicked' GROUP BY url",
    ),
    links: raw.prepare("SELECT url FROM broadcast_links WHERE broadcast_id = ?1 ORDER BY link_index"),
  };
}
const statements = new WeakMap<Deps["database"], ReturnType<typeof prepare>>();
const prepared = (deps: Deps) => {
  let q = statements.get(deps.database);
  if (!q) statements.set(deps.database, (q = prepare(deps)));
  return q;
};

const rate = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100);

export function broadcastStatistics(deps: Deps, b: Broadcast) {
  const q = prepared(deps);
  const by = Object.fromEntries((q.statuses.all(b.id) as { status: string; n: number }[]).map((r) => [r.status, r.n]));
  const aborted = (q.aborted.get(b.id) as { n: number }).n;
  const sent = by.sent ?? 0;
  const bounced = by.bounced ?? 0;
  const failed = (by.failed ?? 0) - aborted + bounced;
  const count = (type: string) => q.events.get(b.id, type) as { n: number; u: number };
  const opens = count(METRICS.opens);
  const clicks = count(METRICS.clicks);
  const complaints = count(METRICS.complaints).n;
  // Soft bounces reported after sending (docs/bounces.md) count as bounces, not as hard ones: one event per message.
  const softBounces = count("email.soft_bounced").n;
  const unsubscribes = count(METRICS.unsubscribes).n;
  return {
    id: b.id,
    status: b.status,
    delivery: { recipients: b.total_recipients, sent, delivered: sent, failed, pending: (by.queued ?? 0) + (by.sending ?? 0), delivery_rate: rate(sent, sent + failed) },
    engagement: {
      opens: { count: opens.n, unique: opens.u, rate: rate(opens.u, sent) },
      clicks: { count: clicks.n, unique: clicks.u, rate: rate(clicks.u, sent) },
    },
    issues: {
      bounces: { count: bounced + softBounces, hard: bounced, rate: rate(bounced + softBounces, sent) },
      complaints: { count: complaints, rate: rate(complaints, sent) },
      unsubscribes: { count: unsubscribes, rate: rate(unsubscribes, sent) },
    },
  };
}

/** Counts per interval from `sent_at` (else `created_at`) over the timeframe, every interval listed. */
export function broadcastTimeline(deps: Deps, b: Broadcast, timeframe: string, metrics: readonly Metric[]) {
  const [window, interval] = TIMEFRAMES[timeframe]!;
  const start = b.sent_at ?? b.created_at;
  const q = prepared(deps);
  const series = metrics.map((metric) => {
    const counts = new Map((q.buckets.all(b.id, METRICS[metric], start, interval, start + window) as { b: number; n: number }[]).map((r) => [r.b, r.n]));
    const points = Array.from({ length: window / interval }, (_, i) => ({ t: toIso(start + i * interval)!, count: counts.get(i) ?? 0 }));
    return { metric, points };
  });
  return { timeframe, interval_seconds: interval / 1000, starts_at: toIso(start)!, series };
}

/** `metrics` as a comma list or array, each one of METRICS. @throws 422 */
export function readMetrics(value: unknown): Metric[] {
  if (value === undefined) return ["opens", "clicks"];
  const list = (Array.isArray(value) ? value : String(value).split(",")).map((m) => String(m).trim()).filter(Boolean);
  const bad = list.filter((m) => !(m in METRICS));
  if (bad.length || list.length === 0) throw validationError({ metrics: [`must be a subset of ${Object.keys(METRICS).join(", ")}`] });
  return [...new Set(list)] as Metric[];
}

/** Clicks per stored link. */
export function broadcastLinks(deps: Deps, b: Broadcast, sort: "clicks" | "unique_clicks" | "url", order: "asc" | "desc") {
  const q = prepared(deps);
  const clicked = new Map((q.clicksByUrl.all(b.id) as { url: string; clicks: number; unique_clicks: number }[]).map((r) => [r.url, r]));
  // Every stored link, the ones nobody clicked with zeros.
  const urls = new Set([...(q.links.all(b.id) as { url: string }[]).map((l) => l.url), ...clicked.keys()]);
  const rows = [...urls].map((url) => ({ url, clicks: clicked.get(url)?.clicks ?? 0, unique_clicks: clicked.get(url)?.unique_clicks ?? 0 }));
  const sign = order === "asc" ? 1 : -1;
  rows.sort((x, y) => sign * (sort === "url" ? x.url.localeCompare(y.url) : x[sort] - y[sort]));
  return { links: rows };
}
