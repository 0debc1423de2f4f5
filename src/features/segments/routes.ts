import { Elysia, t } from "elysia";
import type { Scope } from "@/auth/scope";
import type { Deps } from "@/deps";
import type { Segment } from "@/db/schema";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { withWarnings } from "@/input/fields";
import { pagination } from "@/input/pagination";
import { idParam } from "@/http/params";
import { MessageSchema, PageList, PaginationSchema, Strict, Warnings } from "@/input/schemas";
import { encodeSubscriber, SubscriberSchema } from "@/features/subscribers/model";
import { encodeSegment, encodeSegmentSummary, SegmentFields, segmentInput, SegmentSchema, SegmentSummarySchema } from "./model";
import { countSegment, createSegment, deleteSegment, getSegment, listSegments, loadGroups, segmentMembers, updateSegment } from "./service";

const params = { id: idParam("Segment") };
const body = { fields: SegmentFields, wrapper: "segment" } as const;
/** Segment show (§7): the segment and one page of its members — the one record returned wrapped. */
const SegmentShowSchema = Strict({ segment: SegmentSchema, subscribers: t.Array(SubscriberSchema), pagination: PaginationSchema, warnings: t.Optional(Warnings) });

/** §7 /segments. */
export const segmentRoutes = (deps: Deps) => {
  const channelOf = (channelId: number) => deps.auth.cache.channelById(channelId)!;
  const full = (s: Segment, count = countSegment(deps, s)) => encodeSegment(s, channelOf(s.channel_id), loadGroups(deps.db, s.id), count);
  const load = ({ scope, params }: { scope: Scope; params: { id: number } }) => getSegment(deps, scope, params.id);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/segments",
      ...route(
        { summary: "List segments", permission: "segments_read", pagination: { style: "page" }, response: { 200: PageList("segments", SegmentSummarySchema) } },
        ({ scope, page }) => {
          const { rows, total } = listSegments(deps, scope, page.limit, page.offset);
          return withWarnings(
            { segments: rows.map((s) => encodeSegmentSummary(s, channelOf(s.channel_id))), pagination: pagination(total, rows.length, page) },
            page.warnings,
          );
        },
      ),
    )
    .get(
      "/segments/:id",
      ...route(
        { summary: "Get a segment with a page of its members", permission: "segments_read", params, load, pagination: { style: "page" }, response: { 200: SegmentShowSchema } },
        ({ record, page }) => {
          const { rows, total } = segmentMembers(deps, record, page.limit, page.offset);
          const channel = channelOf(record.channel_id);
          return withWarnings(
            { segment: full(record, total), subscribers: rows.map((s) => encodeSubscriber(s, channel.slug)), pagination: pagination(total, rows.length, page) },
            page.warnings,
          );
        },
      ),
    )
    .post(
      "/segments",
      ...route(
        { summary: "Create a segment", permission: "segments_write", channel: "one", body, response: { 201: SegmentSchema } },
        ({ channel, values, warnings, set }) => {
          const segment = createSegment(deps, channel, segmentInput(values));
          set.status = 201;
          return withWarnings(full(segment), warnings);
        },
      ),
    )
    .patch(
      "/segments/:id",
      ...route(
        { summary: "Update a segment (groups given replace every group)", permission: "segments_write", params, load, body: { ...body, partial: true }, response: { 200: SegmentSchema } },
        ({ record, values, warnings }) => withWarnings(full(updateSegment(deps, record, segmentInput(values))), warnings),
      ),
    )
    .delete(
      "/segments/:id",
      ...route({ summary: "Delete a segment", permission: "segments_write", params, load, response: { 200: MessageSchema } }, ({ record }) => {
        deleteSegment(deps, record);
        return { message: "Segment deleted successfully" };
      }),
    );
};
