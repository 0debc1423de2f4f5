import { Elysia } from "elysia";
import type { Permission } from "@/auth/permissions";
import type { Principal } from "@/auth/principal";
import { requireSomeChannel, type Scope } from "@/auth/scope";
import type { Deps } from "@/deps";
import { authPlugin, type RouteRule } from "@/http/auth";
import type { Input } from "@/http/compat";
import { validationError } from "@/lib/errors";
import { f, readFields, unrecognizedKeys, withWarnings } from "@/http/fields";
import { pageParams, pagination } from "@/http/pagination";
import { isSuppressed, type SuppressionReason } from "@/features/subscribers/eligibility";
import { readEmail } from "@/features/subscribers/fields";
import {
  addSuppression, bulkAddSuppressions, bulkRemoveSuppressions, encodeSuppression, listSuppressions, MAX_BULK_EMAILS, REASONS,
  removeSuppression,
} from "./service";

const EmailField = { email: f.custom(readEmail, { required: true }) };
const AddFields = { ...EmailField, reason: f.enum(REASONS) };
const sourceOf = (p: Principal) => (p.kind === "admin" ? "dashboard" : "api");

/** `emails` of a bulk call. @throws 422 unless an array of ≤ 10,000 values. */
function readEmails(input: Input): unknown[] {
  const emails = input.emails;
  if (emails === undefined || emails === null) throw validationError({ emails: ["can't be blank"] });
  if (!Array.isArray(emails)) throw validationError({ emails: ["must be an array"] });
  if (emails.length > MAX_BULK_EMAILS) throw validationError({ emails: [`is too long (maximum is ${MAX_BULK_EMAILS} addresses per request)`] });
  return emails;
}

/**
 * The routes shared by one list kind: `/suppressions` (channel lists; email-keyed routes need
 * exactly one channel) and `/global_suppressions` (scope `all` only; no check route).
 */
function listRoutes(deps: Deps, base: "/suppressions" | "/global_suppressions") {
  const global = base === "/global_suppressions";
  const rule = (permission: Permission): RouteRule => (global ? { permission, scopeAll: true } : permission);
  /** The list an email-keyed request works on: null = global. */
  const target = (scope: Scope) => (global ? null : scope.one().id);
  const slugOf = (scope: Scope, channelId: number | null) => (channelId === null ? null : (scope.channel(channelId)?.slug ?? null));

  return new Elysia()
    .use(authPlugin(deps))
    .get(
      base,
      ({ scope, input }) => {
        if (!global) requireSomeChannel(scope);
        const page = pageParams(input, { filters: ["email", "reason"] });
        const warnings = page.warnings;
        const email = input.email === undefined || input.email === "" ? undefined : input.email;
        if (email !== undefined && typeof email !== "string") throw validationError({ email: ["must be a string"] });
        const reason = input.reason === undefined || input.reason === "" ? undefined : input.reason;
        if (reason !== undefined && !REASONS.includes(reason as SuppressionReason)) throw validationError({ reason: ["is not included in the list"] });
        const { rows, total } = listSuppressions(deps, global ? null : scope.channelIds, { email, reason: reason as SuppressionReason }, page.limit, page.offset);
        const data = rows.map((r) => encodeSuppression(r, slugOf(scope, r.channel_id)));
        return withWarnings({ suppressions: data, pagination: pagination(total, data.length, page) }, warnings);
      },
      { permission: rule("suppressions_read") },
    )
    .post(
      base,
      ({ principal, scope, input, set }) => {
        const channelId = target(scope);
        const { values, warnings } = readFields(AddFields, input, { wrapper: "suppression" });
        const { row, created } = addSuppression(deps, channelId, values.email as string, (values.reason as SuppressionReason) ?? "manual", sourceOf(principal));
        set.status = created ? 201 : 200;
        return withWarnings({ ...encodeSuppression(row, slugOf(scope, channelId)), created }, warnings);
      },
      { permission: rule("suppressions_write") },
    )
    .delete(
      base,
      ({ scope, input }) => {
        const channelId = target(scope);
        const { values, warnings } = readFields(EmailField, input, { wrapper: "suppression" });
        return withWarnings({ email: values.email as string, removed: removeSuppression(deps, channelId, values.email as string) }, warnings);
      },
      { permission: rule("suppressions_write") },
    )
    .post(
      `${base}/bulk`,
      ({ principal, scope, input }) => {
        const channelId = target(scope);
        return withWarnings(bulkAddSuppressions(deps, channelId, readEmails(input), sourceOf(principal)), unrecognizedKeys(input, ["emails"]));
      },
      { permission: rule("suppressions_write") },
    )
    .delete(
      `${base}/bulk`,
      ({ scope, input }) => {
        const channelId = target(scope);
        return withWarnings(bulkRemoveSuppressions(deps, channelId, readEmails(input)), unrecognizedKeys(input, ["emails"]));
      },
      { permission: rule("suppressions_write") },
    );
}

/** §12 /suppressions (+ /check) and /global_suppressions. */
export const suppressionRoutes = (deps: Deps) =>
  new Elysia()
    .use(authPlugin(deps))
    .get(
      "/suppressions/check",
      ({ scope, input }) => {
        const channel = scope.one();
        const { values, warnings } = readFields(EmailField, input, { wrapper: "suppression" });
        const hit = isSuppressed(deps.db, channel.id, values.email as string);
        return withWarnings({ email: values.email as string, suppressed: hit !== null, scope: hit?.scope ?? null, reason: hit?.reason ?? null }, warnings);
      },
      { permission: "suppressions_read" },
    )
    .use(listRoutes(deps, "/suppressions"))
    .use(listRoutes(deps, "/global_suppressions"));
