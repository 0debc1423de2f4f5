import { Elysia, t } from "elysia";
import type { Permission } from "@/auth/permissions";
import type { Principal } from "@/auth/principal";
import type { Scope } from "@/auth/scope";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { withWarnings } from "@/input/fields";
import { pagination } from "@/input/pagination";
import { PageList, Strict } from "@/input/schemas";
import { isSuppressed } from "@/features/subscribers/eligibility";
import { AddFields, BulkAddSchema, BulkFields, BulkRemoveSchema, CheckSchema, EmailFields, ListFilterFields, SuppressionSchema } from "./model";
import { addSuppression, bulkAddSuppressions, bulkRemoveSuppressions, encodeSuppression, listSuppressions, removeSuppression } from "./service";

const sourceOf = (p: Principal) => (p.kind === "admin" ? "dashboard" : "api");
const WRAPPER = "suppression";

/**
 * The routes shared by one list kind: `/suppressions` (channel lists; email-keyed routes need
 * exactly one channel) and `/global_suppressions` (scope `all` only; no check route).
 */
function listRoutes(deps: Deps, base: "/suppressions" | "/global_suppressions") {
  const global = base === "/global_suppressions";
  const access = (permission: Permission) => ({ permission, scopeAll: global });
  /** Email-keyed routes work on one channel's list, or on the global one. */
  const one = global ? undefined : ("one" as const);
  const list = global ? "the global suppression list" : "a channel's suppression list";
  const slugOf = (scope: Scope, channelId: number | null) => (channelId === null ? null : (scope.channel(channelId)?.slug ?? null));

  return new Elysia()
    .use(authPlugin(deps))
    .get(
      base,
      ...route(
        {
          summary: `List ${global ? "the global suppression list" : "the channels' suppression lists"}`,
          ...access("suppressions_read"),
          channel: global ? undefined : ("some" as const),
          pagination: { style: "page" },
          query: { fields: ListFilterFields },
          response: { 200: PageList("suppressions", SuppressionSchema) },
        },
        ({ scope, query, page }) => {
          const { rows, total } = listSuppressions(deps, global ? null : scope.channelIds, query, page.limit, page.offset);
          const data = rows.map((r) => encodeSuppression(r, slugOf(scope, r.channel_id)));
          return withWarnings({ suppressions: data, pagination: pagination(total, data.length, page) }, page.warnings);
        },
      ),
    )
    .post(
      base,
      ...route(
        {
          summary: `Add an address to ${list}`,
          ...access("suppressions_write"),
          channel: one,
          body: { fields: AddFields, wrapper: WRAPPER },
          response: { 200: Strict({ ...SuppressionSchema.properties, created: t.Boolean() }), 201: Strict({ ...SuppressionSchema.properties, created: t.Boolean() }) },
        },
        ({ principal, scope, channel, values, warnings, set }) => {
          const channelId = channel?.id ?? null;
          const { row, created } = addSuppression(deps, channelId, values.email, values.reason ?? "manual", sourceOf(principal));
          set.status = created ? 201 : 200;
          return withWarnings({ ...encodeSuppression(row, slugOf(scope, channelId)), created }, warnings);
        },
      ),
    )
    .delete(
      base,
      ...route(
        {
          summary: `Remove an address from ${list}`,
          ...access("suppressions_write"),
          channel: one,
          body: { fields: EmailFields, wrapper: WRAPPER },
          response: { 200: Strict({ email: t.String(), removed: t.Boolean() }) },
        },
        ({ channel, values, warnings }) => withWarnings({ email: values.email, removed: removeSuppression(deps, channel?.id ?? null, values.email) }, warnings),
      ),
    )
    .post(
      `${base}/bulk`,
      ...route(
        { summary: `Add up to 10,000 addresses to ${list}`, ...access("suppressions_write"), channel: one, body: { fields: BulkFields }, response: { 200: BulkAddSchema } },
        ({ principal, channel, values, warnings }) => withWarnings(bulkAddSuppressions(deps, channel?.id ?? null, values.emails, sourceOf(principal)), warnings),
      ),
    )
    .delete(
      `${base}/bulk`,
      ...route(
        { summary: `Remove up to 10,000 addresses from ${list}`, ...access("suppressions_write"), channel: one, body: { fields: BulkFields }, response: { 200: BulkRemoveSchema } },
        ({ channel, values, warnings }) => withWarnings(bulkRemoveSuppressions(deps, channel?.id ?? null, values.emails), warnings),
      ),
    );
}

/** §12 /suppressions (+ /check) and /global_suppressions. */
export const suppressionRoutes = (deps: Deps) =>
  new Elysia()
    .use(authPlugin(deps))
    .get(
      "/suppressions/check",
      ...route(
        {
          summary: "Whether an address is suppressed for a channel (its list or the global one)",
          permission: "suppressions_read",
          channel: "one",
          query: { fields: EmailFields, wrapper: WRAPPER },
          response: { 200: CheckSchema },
        },
        ({ channel, query, warnings }) => {
          const hit = isSuppressed(deps.db, channel.id, query.email);
          return withWarnings({ email: query.email, suppressed: hit !== null, scope: hit?.scope ?? null, reason: hit?.reason ?? null }, warnings);
        },
      ),
    )
    .use(listRoutes(deps, "/suppressions"))
    .use(listRoutes(deps, "/global_suppressions"));
