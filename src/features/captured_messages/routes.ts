import { Elysia, t } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { rawResponse, route } from "@/http/contract";
import { offsetEnvelope } from "@/input/pagination";
import { idParam } from "@/http/params";
import { Int, MessageSchema, OffsetList, Strict } from "@/input/schemas";
import { CapturedDetailSchema, CapturedFilterFields, CapturedSchema, encodeCaptured } from "./model";
import { deleteAllCaptured, deleteCaptured, getCaptured, getCapturedRaw, listCaptured, readCapturedContent, type CapturedMeta } from "./service";

const params = { id: idParam("Captured message") };

/** §18 /captured_messages — the capture server's inbox; the built-in email server's output, hence email_servers_*. */
export const capturedMessageRoutes = (deps: Deps) => {
  const encode = (row: CapturedMeta) => encodeCaptured(row, deps.auth.cache.slugOf(row.channel_id) ?? "");
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/captured_messages",
      ...route(
        {
          summary: "List captured messages, newest first",
          permission: "email_servers_read",
          channel: "some",
          pagination: { style: "offset" },
          query: { fields: CapturedFilterFields },
          response: { 200: OffsetList(CapturedSchema) },
        },
        ({ scope, query, page }) => {
          const { rows, total } = listCaptured(deps, scope, query, page.limit, page.offset);
          return offsetEnvelope(rows.map(encode), total, page);
        },
      ),
    )
    .get(
      "/captured_messages/:id",
      ...route(
        { summary: "Get a captured message with its headers, HTML and text", permission: "email_servers_read", params, response: { 200: CapturedDetailSchema } },
        async ({ scope, params }) => {
          const row = getCaptured(deps, scope, params.id);
          return { ...encode(row), ...(await readCapturedContent(getCapturedRaw(deps, scope, params.id))) };
        },
      ),
    )
    .get(
      "/captured_messages/:id/raw",
      ...route(
        { summary: "The captured message as delivered (RFC 822)", permission: "email_servers_read", params, response: { 200: rawResponse("message/rfc822") } },
        ({ scope, params }) => new Response(getCapturedRaw(deps, scope, params.id), { headers: { "content-type": "message/rfc822" } }),
      ),
    )
    .delete(
      "/captured_messages/:id",
      ...route({ summary: "Delete a captured message", permission: "email_servers_write", params, response: { 200: MessageSchema } }, ({ scope, params }) => {
        deleteCaptured(deps, scope, params.id);
        return { message: "Captured message deleted successfully" };
      }),
    )
    .delete(
      "/captured_messages",
      ...route(
        { summary: "Delete every captured message of the target channels", permission: "email_servers_write", channel: "some", response: { 200: Strict({ deleted: Int() }) } },
        ({ scope }) => ({ deleted: deleteAllCaptured(deps, scope) }),
      ),
    );
};
