import { Elysia, t } from "elysia";
import type { Scope } from "@/auth/scope";
import type { Deps } from "@/deps";
import { auditContextOf } from "@/features/audit_log/service";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { withWarnings } from "@/input/fields";
import { offsetEnvelope } from "@/input/pagination";
import { idParam } from "@/http/params";
import { MessageSchema, OffsetList, Strict } from "@/input/schemas";
import type { EmailServer } from "@/db/schema";
import { CopyFields, EmailServerFields, EmailServerSchema, encodeEmailServer } from "./model";
import {
  copyEmailServer,
  createEmailServer,
  deleteEmailServer,
  getEmailServer,
  listEmailServers,
  testConnection,
  updateEmailServer,
} from "./service";

const params = { id: idParam("Email server") };
const body = { fields: EmailServerFields, wrapper: "email_server" } as const;

/** §9 /email_servers. */
export const emailServerRoutes = (deps: Deps) => {
  const encode = (row: EmailServer) => encodeEmailServer(row, deps.auth.cache.slugOf(row.channel_id) ?? "", deps.config.publicUrl);
  const load = ({ scope, params }: { scope: Scope; params: { id: number } }) => getEmailServer(deps, scope, params.id);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/email_servers",
      ...route(
        { summary: "List email servers", permission: "email_servers_read", channel: "some", pagination: { style: "offset" }, response: { 200: OffsetList(EmailServerSchema) } },
        ({ scope, page }) => {
          const { rows, total } = listEmailServers(deps, scope, page.limit, page.offset);
          return offsetEnvelope(rows.map(encode), total, page);
        },
      ),
    )
    .get(
      "/email_servers/:id",
      ...route({ summary: "Get an email server", permission: "email_servers_read", params, load, response: { 200: EmailServerSchema } }, ({ record }) => encode(record)),
    )
    .post(
      "/email_servers",
      ...route(
        { summary: "Add an email server", permission: "email_servers_write", channel: "one", body, response: { 201: EmailServerSchema } },
        ({ principal, channel, values, warnings, set }) => {
          const row = createEmailServer(deps, channel, values, auditContextOf(principal));
          set.status = 201;
          return withWarnings(encodeEmailServer(row, channel.slug, deps.config.publicUrl), warnings);
        },
      ),
    )
    .patch(
      "/email_servers/:id",
      ...route(
        { summary: "Update an email server", permission: "email_servers_write", params, load, body: { ...body, partial: true }, response: { 200: EmailServerSchema } },
        ({ principal, record, values, warnings }) => withWarnings(encode(updateEmailServer(deps, record, values, auditContextOf(principal))), warnings),
      ),
    )
    .delete(
      "/email_servers/:id",
      ...route({ summary: "Delete an email server", permission: "email_servers_write", params, load, response: { 200: MessageSchema } }, ({ principal, record }) => {
        deleteEmailServer(deps, record, auditContextOf(principal));
        return { message: "Email server deleted successfully" };
      }),
    )
    .post(
      "/email_servers/:id/test_connection",
      ...route(
        {
          summary: "Open an SMTP session to the server and report the outcome",
          permission: "email_servers_write",
          params,
          load,
          response: { 200: Strict({ success: t.Boolean(), message: t.String() }) },
        },
        ({ principal, record }) => testConnection(deps, record, auditContextOf(principal)),
      ),
    )
    .post(
      "/email_servers/:id/copy_to_channel",
      ...route(
        {
          summary: "Copy the server (password included) to another channel",
          permission: "email_servers_write",
          params,
          load,
          body: { fields: CopyFields },
          response: { 201: EmailServerSchema },
        },
        ({ principal, scope, record, values, set }) => {
          const row = copyEmailServer(deps, scope, record, values, auditContextOf(principal));
          set.status = 201;
          return encode(row);
        },
      ),
    );
};
