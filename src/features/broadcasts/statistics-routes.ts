import { Elysia } from "elysia";
import type { Scope } from "@/auth/scope";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { f, result } from "@/http/fields";
import { idParam } from "@/http/params";
import { LinksSchema, StatisticsSchema, TimelineSchema } from "./model";
import { getBroadcast } from "./service";
import { broadcastLinks, broadcastStatistics, broadcastTimeline, METRICS, readMetrics, TIMEFRAMES } from "./statistics";

const params = { id: idParam("Broadcast") };
const TimelineQuery = {
  timeframe: f.enum(Object.keys(TIMEFRAMES)),
  metrics: f.custom(
    (v) => {
      try {
        return result.ok(readMetrics(v));
      } catch {
        return result.err(`must be a subset of ${Object.keys(METRICS).join(", ")}`);
      }
    },
    { schema: { type: "string", description: `comma list of ${Object.keys(METRICS).join(", ")}` } },
  ),
};
const LinksQuery = { sort: f.enum(["clicks", "unique_clicks", "url"] as const), order: f.enum(["asc", "desc"] as const) };

/** §5 statistics, timeline and links of one broadcast. */
export const broadcastStatisticsRoutes = (deps: Deps) => {
  const load = ({ scope, params }: { scope: Scope; params: { id: number } }) => getBroadcast(deps, scope, params.id);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/broadcasts/:id/statistics",
      ...route({ summary: "Delivery, engagement and issues of a broadcast", permission: "broadcasts_read", params, load, response: { 200: StatisticsSchema } }, ({ record }) =>
        broadcastStatistics(deps, record),
      ),
    )
    .get(
      "/broadcasts/:id/statistics/timeline",
      ...route(
        { summary: "Events of a broadcast per interval", permission: "broadcasts_read", params, load, query: { fields: TimelineQuery }, response: { 200: TimelineSchema } },
        ({ record, query }) => broadcastTimeline(deps, record, query.timeframe ?? "24h", query.metrics ?? readMetrics(undefined)),
      ),
    )
    .get(
      "/broadcasts/:id/statistics/links",
      ...route(
        { summary: "Clicks per tracked link of a broadcast", permission: "broadcasts_read", params, load, query: { fields: LinksQuery }, response: { 200: LinksSchema } },
        ({ record, query }) => broadcastLinks(deps, record, query.sort ?? "clicks", query.order ?? "desc"),
      ),
    );
};
