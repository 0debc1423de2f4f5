import { Elysia } from "elysia";
import type { Broadcast } from "@/db/schema";
import type { Deps } from "@/deps";
import { peekQuota, quotaHeaders } from "@/features/channels/quota";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { f, result, withWarnings } from "@/input/fields";
import { offsetEnvelope } from "@/input/pagination";
import { idParam } from "@/http/params";
import { MessageSchema, OffsetList } from "@/input/schemas";
import type { Scope } from "@/auth/scope";
import { abortBroadcast, pauseBroadcast, resumeBroadcast } from "./control";
import {
  BroadcastFields,
  BroadcastFilterFields,
  BroadcastSchema,
  BroadcastSummarySchema,
  encodeBroadcast,
  encodeSummary,
  LinksSchema,
  ScheduleFields,
  SendResultSchema,
  StatisticsSchema,
  TimelineSchema,
} from "./model";
import { sendBroadcast } from "./send";
import { broadcastLinks, broadcastStatistics, broadcastTimeline, METRICS, readMetrics, TIMEFRAMES } from "./statistics";
import { cancelSchedule, createBroadcast, deleteBroadcast, getBroadcast, listBroadcasts, scheduleBroadcast, updateBroadcast } from "./service";

const params = { id: idParam("Broadcast") };
const body = { fields: BroadcastFields, wrapper: "broadcast" } as const;
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


/** §5 /broadcasts with statistics, timeline and links. Sends and schedules use the `send` bucket and answer quota headers. */
export const broadcastRoutes = (deps: Deps) => {
  const slug = (b: Broadcast) => ({ slug: deps.auth.cache.slugOf(b.channel_id) ?? "" });
  const encode = (b: Broadcast) => encodeBroadcast(b, slug(b));
  const load = ({ scope, params }: { scope: Scope; params: { id: number } }) => getBroadcast(deps, scope, params.id);
  const channelOf = (b: Broadcast) => deps.auth.cache.channelById(b.channel_id)!;
  const action = (summary: string, run: (b: Broadcast) => Broadcast) =>
    route({ summary, permission: "broadcasts_write", params, load, response: { 200: BroadcastSchema } }, ({ record }) => encode(run(record)));
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/broadcasts",
      ...route(
        {
          summary: "List broadcasts, newest first",
          permission: "broadcasts_read",
          channel: "some",
          pagination: { style: "offset" },
          query: { fields: BroadcastFilterFields },
          response: { 200: OffsetList(BroadcastSummarySchema) },
        },
        ({ scope, query, page }) => {
          const { rows, total } = listBroadcasts(deps, scope, query.status, page.limit, page.offset);
          return offsetEnvelope(
            rows.map((b) => encodeSummary(b, slug(b))),
            total,
            page,
          );
        },
      ),
    )
    .get("/broadcasts/:id", ...route({ summary: "Get a broadcast", permission: "broadcasts_read", params, load, response: { 200: BroadcastSchema } }, ({ record }) => encode(record)))
    .post(
      "/broadcasts",
      ...route(
        { summary: "Create a broadcast (draft, or future_scheduled with scheduled_send_at)", permission: "broadcasts_write", channel: "one", body, response: { 201: BroadcastSchema } },
        ({ channel, values, warnings, set }) => {
          const row = createBroadcast(deps, channel, values);
          set.status = 201;
          return withWarnings(encode(row), warnings);
        },
      ),
    )
    .patch(
      "/broadcasts/:id",
      ...route(
        { summary: "Update a draft or future_scheduled broadcast", permission: "broadcasts_write", params, load, body: { ...body, partial: true }, response: { 200: BroadcastSchema } },
        ({ record, values, warnings }) => withWarnings(encode(updateBroadcast(deps, channelOf(record), record, values)), warnings),
      ),
    )
    .delete(
      "/broadcasts/:id",
      ...route({ summary: "Delete a draft, future_scheduled or failed broadcast", permission: "broadcasts_write", params, load, response: { 200: MessageSchema } }, ({ record }) => {
        deleteBroadcast(deps, record);
        return { message: "Broadcast deleted successfully" };
      }),
    )
    .post(
      "/broadcasts/:id/send_broadcast",
      ...route(
        { summary: "Send a broadcast now (no undo)", permission: "broadcasts_write", bucket: "send", params, load, response: { 200: SendResultSchema } },
        ({ record, set }) => {
          const { broadcast, quota } = sendBroadcast(deps, channelOf(record), record);
          Object.assign(set.headers, quotaHeaders(quota));
          return { id: broadcast.id, message: "Broadcast queued for sending", status: broadcast.status };
        },
      ),
    )
    .post(
      "/broadcasts/:id/schedule_broadcast",
      ...route(
        { summary: "Schedule a broadcast", permission: "broadcasts_write", bucket: "send", params, load, body: { fields: ScheduleFields, wrapper: "broadcast" }, response: { 200: BroadcastSchema } },
        ({ record, values, warnings, set }) => {
          const channel = channelOf(record);
          const row = scheduleBroadcast(deps, channel, record, values.scheduled_send_at, values.scheduled_timezone);
          Object.assign(set.headers, quotaHeaders(peekQuota(deps.db, channel, deps.clock.now())));
          return withWarnings(encode(row), warnings);
        },
      ),
    )
    .post("/broadcasts/:id/cancel_schedule", ...action("Cancel a schedule (back to draft)", (b) => cancelSchedule(deps, b)))
    .post("/broadcasts/:id/pause", ...action("Pause a sending broadcast", (b) => pauseBroadcast(deps, b)))
    .post("/broadcasts/:id/resume", ...action("Resume a paused broadcast", (b) => resumeBroadcast(deps, b)))
    .post("/broadcasts/:id/abort", ...action("Abort a broadcast: unsent messages are not sent", (b) => abortBroadcast(deps, b)))
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
