import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { offsetEnvelope } from "@/input/pagination";
import { OffsetList } from "@/input/schemas";
import { AuditFilterFields, AuditRowSchema } from "./model";
import { listAudit } from "./service";

/** §2.6 GET /audit_log — access_tokens_read and scope `all`; id ascending like every offset list (§1.5). */
export const auditLogRoutes = (deps: Deps) =>
  new Elysia().use(authPlugin(deps)).get(
    "/audit_log",
    ...route(
      {
        summary: "List the audit log",
        permission: "access_tokens_read",
        scopeAll: true,
        pagination: { style: "offset" },
        query: { fields: AuditFilterFields },
        response: { 200: OffsetList(AuditRowSchema) },
      },
      ({ query, page }) => {
        const { rows, total } = listAudit(deps.db, query, page.limit, page.offset);
        return offsetEnvelope(rows, total, page);
      },
    ),
  );
