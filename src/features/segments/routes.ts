import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import type { Segment } from "@/db/schema";
import { authPlugin } from "@/http/auth";
import { withWarnings } from "@/http/fields";
import { pageParams, pagination } from "@/http/pagination";
import { pathId } from "@/http/params";
import { encodeSubscriber } from "@/features/subscribers/model";
import { encodeSegment, encodeSegmentSummary, readSegmentInput } from "./model";
import { countSegment, createSegment, deleteSegment, getSegment, listSegments, loadGroups, segmentMembers, updateSegment } from "./service";

/** §7 /segments. */
export const segmentRoutes = (deps: Deps) => {
  const slug = (channelId: number) => deps.auth.cache.channelById(channelId)!;
  const full = (s: Segment, count = countSegment(deps, s)) => encodeSegment(s, slug(s.channel_id), loadGroups(deps.db, s.id), count);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/segments",
      ({ scope, input }) => {
        const page = pageParams(input, { filters: [] });
        const { rows, total } = listSegments(deps, scope, page.limit, page.offset);
        return withWarnings(
          { segments: rows.map((s) => encodeSegmentSummary(s, slug(s.channel_id))), pagination: pagination(total, rows.length, page) },
          page.warnings,
        );
      },
      { permission: "segments_read" },
    )
    .get(
      "/segments/:id",
      ({ scope, params, input }) => {
        const segment = getSegment(deps, scope, pathId(params.id, "Segment"));
        const page = pageParams(input, { filters: [] });
        const { rows, total } = segmentMembers(deps, segment, page.limit, page.offset);
        const channel = slug(segment.channel_id);
        return withWarnings(
          {
            segment: full(segment, total),
            subscribers: rows.map((s) => encodeSubscriber(s, channel.slug)),
            pagination: pagination(total, rows.length, page),
          },
          page.warnings,
        );
      },
      { permission: "segments_read" },
    )
    .post(
      "/segments",
      ({ scope, input, set }) => {
        const channel = scope.one();
        const read = readSegmentInput(input, false);
        const segment = createSegment(deps, channel, read.input);
        set.status = 201;
        return withWarnings(full(segment), read.warnings);
      },
      { permission: "segments_write" },
    )
    .patch(
      "/segments/:id",
      ({ scope, input, params }) => {
        const segment = getSegment(deps, scope, pathId(params.id, "Segment"));
        const read = readSegmentInput(input, true);
        return withWarnings(full(updateSegment(deps, segment, read.input)), read.warnings);
      },
      { permission: "segments_write" },
    )
    .delete(
      "/segments/:id",
      ({ scope, params }) => {
        deleteSegment(deps, getSegment(deps, scope, pathId(params.id, "Segment")));
        return { message: "Segment deleted successfully" };
      },
      { permission: "segments_write" },
    );
};
