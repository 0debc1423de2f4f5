import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { auditContextOf } from "@/features/audit_log/service";
import { authPlugin } from "@/http/auth";
import { readFields, withWarnings } from "@/http/fields";
import { offsetEnvelope, offsetParams } from "@/http/pagination";
import { pathId } from "@/http/params";
import type { Principal } from "@/auth/principal";
import { encodeToken, RefreshFields, TokenFields } from "./model";
import { createToken, deleteToken, getToken, listTokens, refreshToken, updateToken, type TokenInput } from "./service";

const actorOf = (principal: Principal) => ({ principal, audit: auditContextOf(principal) });
const RESOURCE = "Access token";

/** §2.4 /access_tokens (wrapper `access_token`). */
export const accessTokenRoutes = (deps: Deps) => {
  const encode = (v: Parameters<typeof encodeToken>[0]) => encodeToken(v, deps.config);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/access_tokens",
      ({ principal, input }) => {
        const page = offsetParams(input, { filters: [] });
        const { rows, total } = listTokens(deps, actorOf(principal), page.limit, page.offset);
        return offsetEnvelope(rows.map(encode), total, page);
      },
      { permission: "access_tokens_read" },
    )
    .get("/access_tokens/:id", ({ principal, params }) => encode(getToken(deps, actorOf(principal), pathId(params.id, RESOURCE))), {
      permission: "access_tokens_read",
    })
    .post(
      "/access_tokens",
      ({ principal, scope, input, set }) => {
        const { values, warnings } = readFields(TokenFields, input, { wrapper: "access_token" });
        const actor = { ...actorOf(principal), targetChannelIds: scope.channelIds };
        const { view, value } = createToken(deps, actor, values as TokenInput, warnings);
        set.status = 201;
        return withWarnings({ ...encode(view), token: value }, warnings);
      },
      { permission: "access_tokens_write" },
    )
    .patch(
      "/access_tokens/:id",
      ({ principal, input, params }) => {
        const id = pathId(params.id, RESOURCE);
        const { values, warnings } = readFields(TokenFields, input, { wrapper: "access_token", partial: true });
        return withWarnings(encode(updateToken(deps, actorOf(principal), id, values as TokenInput, warnings)), warnings);
      },
      { permission: "access_tokens_write" },
    )
    .post(
      "/access_tokens/:id/refresh",
      ({ principal, input, params }) => {
        const id = pathId(params.id, RESOURCE);
        const { values, warnings } = readFields(RefreshFields, input, { wrapper: "access_token" });
        const { view, value } = refreshToken(deps, actorOf(principal), id, (values.grace_period_seconds as number | undefined) ?? 0);
        return withWarnings({ ...encode(view), token: value }, warnings);
      },
      { permission: "access_tokens_write" },
    )
    .delete(
      "/access_tokens/:id",
      ({ principal, params }) => {
        const id = pathId(params.id, RESOURCE);
        deleteToken(deps, actorOf(principal), id);
        return { message: "Access token deleted successfully", id };
      },
      { permission: "access_tokens_write" },
    );
};
