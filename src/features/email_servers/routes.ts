import { requireSomeChannel } from "@/auth/scope";
import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { auditContextOf } from "@/features/audit_log/service";
import { authPlugin } from "@/http/auth";
import type { Input } from "@/http/compat";
import { readFields, withWarnings, type Warning } from "@/http/fields";
import { offsetEnvelope, offsetParams } from "@/http/pagination";
import { pathId } from "@/http/params";
import { EmailServerFields, encodeEmailServer, REDACTED_ECHO } from "./model";
import {
  copyEmailServer,
  createEmailServer,
  deleteEmailServer,
  getEmailServer,
  listEmailServers,
  testConnection,
  updateEmailServer,
} from "./service";

const RESOURCE = "Email server";
const WRAPPER = "email_server";

/** Drops an echoed redacted password (top-level or wrapped) with `parameter_ignored` (§9). */
function dropRedactedEcho(input: Input): { input: Input; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const isEcho = (v: unknown) => typeof v === "string" && REDACTED_ECHO.test(v);
  let out = input;
  if (isEcho(input.smtp_password)) {
    const { smtp_password: _, ...rest } = out;
    out = rest;
    warnings.push({ code: "parameter_ignored", param: "smtp_password", message: "smtp_password is a redacted value and was ignored" });
  }
  const wrapped = input[WRAPPER];
  if (wrapped && typeof wrapped === "object" && !Array.isArray(wrapped) && isEcho((wrapped as Input).smtp_password)) {
    const { smtp_password: _, ...rest } = wrapped as Input;
    out = { ...out, [WRAPPER]: rest };
    warnings.push({ code: "parameter_ignored", param: `${WRAPPER}.smtp_password`, message: `${WRAPPER}.smtp_password is a redacted value and was ignored` });
  }
  return { input: out, warnings };
}

function readServerFields(input: Input, partial: boolean) {
  const cleaned = dropRedactedEcho(input);
  const { values, warnings } = readFields(EmailServerFields, cleaned.input, { wrapper: WRAPPER, partial });
  return { values, warnings: [...cleaned.warnings, ...warnings] };
}


/** §9 /email_servers. */
export const emailServerRoutes = (deps: Deps) =>
  new Elysia()
    .use(authPlugin(deps))
    .get(
      "/email_servers",
      ({ scope, input }) => {
        requireSomeChannel(scope);
        const page = offsetParams(input, { filters: [] });
        const { rows, total } = listEmailServers(deps, scope, page.limit, page.offset);
        return offsetEnvelope(rows.map((r) => encodeEmailServer(r, (deps.auth.cache.slugOf(r.channel_id) ?? ""))), total, page);
      },
      { permission: "email_servers_read" },
    )
    .get(
      "/email_servers/:id",
      ({ scope, params }) => {
        const row = getEmailServer(deps, scope, pathId(params.id, RESOURCE));
        return encodeEmailServer(row, (deps.auth.cache.slugOf(row.channel_id) ?? ""));
      },
      { permission: "email_servers_read" },
    )
    .post(
      "/email_servers",
      ({ principal, scope, input, set }) => {
        const channel = scope.one();
        const { values, warnings } = readServerFields(input, false);
        const row = createEmailServer(deps, channel, values, auditContextOf(principal));
        set.status = 201;
        return withWarnings(encodeEmailServer(row, channel.slug), warnings);
      },
      { permission: "email_servers_write" },
    )
    .patch(
      "/email_servers/:id",
      ({ principal, scope, input, params }) => {
        const server = getEmailServer(deps, scope, pathId(params.id, RESOURCE));
        const { values, warnings } = readServerFields(input, true);
        const row = updateEmailServer(deps, server, values, auditContextOf(principal));
        return withWarnings(encodeEmailServer(row, (deps.auth.cache.slugOf(row.channel_id) ?? "")), warnings);
      },
      { permission: "email_servers_write" },
    )
    .delete(
      "/email_servers/:id",
      ({ principal, scope, params }) => {
        deleteEmailServer(deps, getEmailServer(deps, scope, pathId(params.id, RESOURCE)), auditContextOf(principal));
        return { message: "Email server deleted successfully" };
      },
      { permission: "email_servers_write" },
    )
    .post(
      "/email_servers/:id/test_connection",
      async ({ principal, scope, params }) =>
        testConnection(deps, getEmailServer(deps, scope, pathId(params.id, RESOURCE)), auditContextOf(principal)),
      { permission: "email_servers_write" },
    )
    .post(
      "/email_servers/:id/copy_to_channel",
      ({ principal, scope, input, params, set }) => {
        const server = getEmailServer(deps, scope, pathId(params.id, RESOURCE));
        const row = copyEmailServer(deps, scope, server, input, auditContextOf(principal));
        set.status = 201;
        return encodeEmailServer(row, (deps.auth.cache.slugOf(row.channel_id) ?? ""));
      },
      { permission: "email_servers_write" },
    );
