import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { auditContextOf } from "@/features/audit_log/service";
import { route } from "@/http/contract";
import { f, result, withWarnings } from "@/input/fields";
import { offsetEnvelope } from "@/input/pagination";
import { textParam } from "@/http/params";
import { MessageSchema, OffsetList } from "@/input/schemas";
import type { Scope } from "@/auth/scope";
import { ChannelFields, ChannelSchema, encodeChannel } from "./model";
import { createChannel, deleteChannel, getChannel, listChannels, updateChannel } from "./service";

const params = { id_or_slug: textParam("The channel's id or slug") };
/** Any value is read; only the channel's own slug confirms (anything else is the 422 of deleteChannel). */
const DeleteFields = {
  confirm: f.custom((v) => result.ok(typeof v === "string" ? v : ""), { nullable: true, schema: { type: "string", description: "The channel's slug" } }),
};

/** §15 /channels. An object-valued `channel` is the wrapper, a string-valued one the slug selector. */
export const channelRoutes = (deps: Deps) => {
  const load = ({ scope, params }: { scope: Scope; params: { id_or_slug: string } }) => getChannel(deps, scope, params.id_or_slug);
  const write = { permission: "channels_write", scopeAll: true } as const;
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/channels",
      ...route(
        { summary: "List channels", permission: "channels_read", channel: "some", pagination: { style: "offset" }, response: { 200: OffsetList(ChannelSchema) } },
        ({ scope, page }) => {
          const { rows, total } = listChannels(deps, scope, page.limit, page.offset);
          return offsetEnvelope(rows.map(encodeChannel), total, page);
        },
      ),
    )
    .get(
      "/channels/:id_or_slug",
      ...route({ summary: "Get a channel", permission: "channels_read", params, load, response: { 200: ChannelSchema } }, ({ record }) => encodeChannel(record)),
    )
    .post(
      "/channels",
      ...route(
        { summary: "Create a channel", ...write, channelWrapper: true, body: { fields: ChannelFields, wrapper: "channel" }, response: { 201: ChannelSchema } },
        ({ principal, values, warnings, set }) => {
          set.status = 201;
          return withWarnings(encodeChannel(createChannel(deps, values, auditContextOf(principal))), warnings);
        },
      ),
    )
    .patch(
      "/channels/:id_or_slug",
      ...route(
        {
          summary: "Update a channel",
          ...write,
          channelWrapper: true,
          params,
          load,
          body: { fields: ChannelFields, wrapper: "channel", partial: true, immutable: ["slug"] },
          response: { 200: ChannelSchema },
        },
        ({ principal, record, values, warnings }) => withWarnings(encodeChannel(updateChannel(deps, record, values, auditContextOf(principal))), warnings),
      ),
    )
    .delete(
      "/channels/:id_or_slug",
      ...route(
        { summary: "Delete a channel and all its data", ...write, params, load, body: { fields: DeleteFields }, response: { 200: MessageSchema } },
        ({ principal, record, values }) => {
          deleteChannel(deps, record, values.confirm, auditContextOf(principal));
          return { message: "Channel deleted successfully" };
        },
      ),
    );
};
