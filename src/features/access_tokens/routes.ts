import { Elysia, t } from "elysia";
import type { Deps } from "@/deps";
import { auditContextOf } from "@/features/audit_log/service";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { withWarnings } from "@/input/fields";
import { offsetEnvelope } from "@/input/pagination";
import { idParam } from "@/http/params";
import { Int, OffsetList, Strict } from "@/input/schemas";
import type { Principal } from "@/auth/principal";
import { encodeToken, RefreshFields, TokenFields, TokenSchema, TokenWithValueSchema } from "./model";
import { createToken, deleteToken, getToken, listTokens, refreshToken, updateToken } from "./service";

const actorOf = (principal: Principal) => ({ principal, audit: auditContextOf(principal) });
const params = { id: idParam("Access token") };
const WRAPPER = "access_token";

/** §2.4 /access_tokens (wrapper `access_token`). */
export const accessTokenRoutes = (deps: Deps) => {
  const encode = (v: Parameters<typeof encodeToken>[0]) => encodeToken(v, deps.config);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/access_tokens",
      ...route(
        { summary: "List access tokens", permission: "access_tokens_read", pagination: { style: "offset" }, response: { 200: OffsetList(TokenSchema) } },
        ({ principal, page }) => {
          const { rows, total } = listTokens(deps, actorOf(principal), page.limit, page.offset);
          return offsetEnvelope(rows.map(encode), total, page);
        },
      ),
    )
    .get(
      "/access_tokens/:id",
      ...route({ summary: "Get an access token", permission: "access_tokens_read", params, response: { 200: TokenSchema } }, ({ principal, params }) =>
        encode(getToken(deps, actorOf(principal), params.id)),
      ),
    )
    .post(
      "/access_tokens",
      ...route(
        {
          summary: "Create an access token (its value is shown once)",
          permission: "access_tokens_write",
          body: { fields: TokenFields, wrapper: WRAPPER },
          response: { 201: TokenWithValueSchema },
        },
        ({ principal, scope, values, warnings, set }) => {
          const actor = { ...actorOf(principal), targetChannelIds: scope.channelIds };
          const { view, value } = createToken(deps, actor, values, warnings);
          set.status = 201;
          return withWarnings({ ...encode(view), token: value }, warnings);
        },
      ),
    )
    .patch(
      "/access_tokens/:id",
      ...route(
        {
          summary: "Update an access token",
          permission: "access_tokens_write",
          params,
          body: { fields: TokenFields, wrapper: WRAPPER, partial: true },
          response: { 200: TokenSchema },
        },
        ({ principal, params, values, warnings }) => withWarnings(encode(updateToken(deps, actorOf(principal), params.id, values, warnings)), warnings),
      ),
    )
    .post(
      "/access_tokens/:id/refresh",
      ...route(
        {
          summary: "Rotate an access token's value, the old one valid for a grace period",
          permission: "access_tokens_write",
          params,
          body: { fields: RefreshFields, wrapper: WRAPPER },
          response: { 200: TokenWithValueSchema },
        },
        ({ principal, params, values, warnings }) => {
          const { view, value } = refreshToken(deps, actorOf(principal), params.id, values.grace_period_seconds ?? 0);
          return withWarnings({ ...encode(view), token: value }, warnings);
        },
      ),
    )
    .delete(
      "/access_tokens/:id",
      ...route(
        { summary: "Delete an access token", permission: "access_tokens_write", params, response: { 200: Strict({ message: t.String(), id: Int() }) } },
        ({ principal, params }) => {
          deleteToken(deps, actorOf(principal), params.id);
          return { message: "Access token deleted successfully", id: params.id };
        },
      ),
    );
};
