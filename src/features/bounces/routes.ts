import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { withWarnings } from "@/input/fields";
import { pagination } from "@/input/pagination";
import { PageList } from "@/input/schemas";
import { listInbound } from "./inbound";
import { encodeInbound, InboundFilterFields, InboundMessageSchema } from "./model";

/** GET /inbound_messages (Mailroom extension, docs/api-reference.md §12): what the inbound bounce listener received. */
export const bounceRoutes = (deps: Deps) =>
  new Elysia().use(authPlugin(deps)).get(
    "/inbound_messages",
    ...route(
      {
        summary: "List mail received by the inbound bounce listener (DSNs, feedback reports, auto-replies), newest first",
        permission: "suppressions_read",
        channel: "some",
        pagination: { style: "page" },
        query: { fields: InboundFilterFields },
        response: { 200: PageList("inbound_messages", InboundMessageSchema) },
      },
      ({ principal, scope, query, page }) => {
        // Mail about no message of ours belongs to no channel: shown to tokens that reach every channel.
        const unlinked = principal.scope === "all" && scope.channelIds.length === deps.auth.cache.channelIds().length;
        const { rows, total } = listInbound(deps, scope.channelIds, unlinked, query, page.limit, page.offset);
        const data = rows.map((r) => encodeInbound(r, r.channel_id === null ? null : (scope.channel(r.channel_id)?.slug ?? null)));
        return withWarnings({ inbound_messages: data, pagination: pagination(total, data.length, page) }, page.warnings);
      },
    ),
  );
