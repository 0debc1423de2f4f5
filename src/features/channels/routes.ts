import { requireSomeChannel } from "@/auth/scope";
import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { auditContextOf } from "@/features/audit_log/service";
import { readFields, withWarnings } from "@/http/fields";
import { offsetEnvelope, offsetParams } from "@/http/pagination";
import { ChannelFields, encodeChannel } from "./model";
import { createChannel, deleteChannel, getChannel, listChannels, updateChannel } from "./service";

/** §15 /channels. An object-valued `channel` is the wrapper, a string-valued one the slug selector. */
export const channelRoutes = (deps: Deps) =>
  new Elysia()
    .use(authPlugin(deps))
    .get(
      "/channels",
      ({ scope, input }) => {
        requireSomeChannel(scope);
        const page = offsetParams(input, { filters: [] });
        const { rows, total } = listChannels(deps, scope, page.limit, page.offset);
        return offsetEnvelope(rows.map(encodeChannel), total, page);
      },
      { permission: "channels_read" },
    )
    .get("/channels/:id_or_slug", ({ scope, params }) => encodeChannel(getChannel(deps, scope, params.id_or_slug)), {
      permission: "channels_read",
    })
    .post(
      "/channels",
      ({ principal, input, set }) => {
        const { values, warnings } = readFields(ChannelFields, input, { wrapper: "channel" });
        set.status = 201;
        return withWarnings(encodeChannel(createChannel(deps, values, auditContextOf(principal))), warnings);
      },
      { permission: { permission: "channels_write", scopeAll: true, channelWrapper: true } },
    )
    .patch(
      "/channels/:id_or_slug",
      ({ principal, scope, input, params }) => {
        const channel = getChannel(deps, scope, params.id_or_slug);
        const { values, warnings } = readFields(ChannelFields, input, { wrapper: "channel", partial: true, immutable: ["slug"] });
        return withWarnings(encodeChannel(updateChannel(deps, channel, values, auditContextOf(principal))), warnings);
      },
      { permission: { permission: "channels_write", scopeAll: true, channelWrapper: true } },
    )
    .delete(
      "/channels/:id_or_slug",
      ({ principal, scope, input, params }) => {
        deleteChannel(deps, getChannel(deps, scope, params.id_or_slug), input.confirm, auditContextOf(principal));
        return { message: "Channel deleted successfully" };
      },
      { permission: { permission: "channels_write", scopeAll: true } },
    );
