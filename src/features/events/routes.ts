import { Elysia, t } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { Strict, Warnings } from "@/input/schemas";
import { encodeCursor, encodeFeedEvent, FeedEventSchema, FeedFilterFields, readFeed } from "./feed";

const FeedSchema = Strict({ data: t.Array(FeedEventSchema), next_cursor: t.String(), has_more: t.Boolean(), warnings: t.Optional(Warnings) });

/** §13 GET /events: the cursor-paged feed of every channel of T. */
export const eventRoutes = (deps: Deps) =>
  new Elysia().use(authPlugin(deps)).get(
    "/events",
    ...route(
      {
        summary: "Read the events feed",
        permission: "events_read",
        channel: "some",
        pagination: { style: "offset", limit: 50, max: 500 },
        query: { fields: FeedFilterFields },
        response: { 200: FeedSchema },
      },
      ({ scope, query, page, input }) => {
        const { rows, hasMore } = readFeed(deps.db, scope.channelIds, query, page.limit);
        const last = rows.at(-1);
        const body = {
          data: rows.map((row) => encodeFeedEvent(row, row.channel_id === null ? null : deps.auth.cache.slugOf(row.channel_id))),
          // Never null: an empty page hands back the cursor it was given, so clients keep polling with it.
          next_cursor: encodeCursor(last?.id ?? query.after ?? 0),
          has_more: hasMore,
        };
        // The feed pages by cursor: an offset means nothing here.
        const warnings = [...page.warnings, ...(input.offset !== undefined ? [{ code: "parameter_ignored" as const, param: "offset", message: "offset is not applicable and was ignored" }] : [])];
        return warnings.length ? { ...body, warnings } : body;
      },
    ),
  );
