import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { f, readFields } from "@/http/fields";
import { offsetEnvelope, offsetParams } from "@/http/pagination";
import { pathId } from "@/http/params";
import { requireSomeChannel } from "@/auth/scope";
import { encodeCaptured } from "./model";
import {
  deleteAllCaptured,
  deleteCaptured,
  getCaptured,
  getCapturedRaw,
  listCaptured,
  readCapturedContent,
  type CapturedFilters,
  type CapturedMeta,
} from "./service";

const Filters = {
  to: f.string({ max: 254 }),
  subject: f.string({ max: 998, trim: false }),
  since: f.time(),
  transactional_id: f.integer({ min: 1 }),
  broadcast_id: f.integer({ min: 1 }),
};

const RESOURCE = "Captured message";

/** §18 /captured_messages — the capture server's inbox; the built-in email server's output, hence email_servers_*. */
export const capturedMessageRoutes = (deps: Deps) => {
  const encode = (row: CapturedMeta) => encodeCaptured(row, deps.auth.cache.slugOf(row.channel_id) ?? "");
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/captured_messages",
      ({ scope, input }) => {
        requireSomeChannel(scope);
        const page = offsetParams(input);
        const { values, warnings } = readFields(Filters, input, { partial: true });
        const { rows, total } = listCaptured(deps, scope, values as CapturedFilters, page.limit, page.offset);
        const body = offsetEnvelope(rows.map(encode), total, page);
        const all = [...("warnings" in body ? body.warnings : []), ...warnings];
        return all.length ? { ...body, warnings: all } : body;
      },
      { permission: "email_servers_read" },
    )
    .get(
      "/captured_messages/:id",
      async ({ scope, params }) => {
        const id = pathId(params.id, RESOURCE);
        const row = getCaptured(deps, scope, id);
        return { ...encode(row), ...(await readCapturedContent(getCapturedRaw(deps, scope, id))) };
      },
      { permission: "email_servers_read" },
    )
    .get(
      "/captured_messages/:id/raw",
      ({ scope, params }) =>
        new Response(getCapturedRaw(deps, scope, pathId(params.id, RESOURCE)), { headers: { "content-type": "message/rfc822" } }),
      { permission: "email_servers_read" },
    )
    .delete(
      "/captured_messages/:id",
      ({ scope, params }) => {
        deleteCaptured(deps, scope, pathId(params.id, RESOURCE));
        return { message: "Captured message deleted successfully" };
      },
      { permission: "email_servers_write" },
    )
    .delete(
      "/captured_messages",
      ({ scope }) => {
        requireSomeChannel(scope);
        return { deleted: deleteAllCaptured(deps, scope) };
      },
      { permission: "email_servers_write" },
    );
};
