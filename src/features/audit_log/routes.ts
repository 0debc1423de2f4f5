import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { f, readFields } from "@/http/fields";
import { offsetEnvelope, offsetParams } from "@/http/pagination";
import { listAudit, type AuditFilters } from "./service";

const Filters = {
  action: f.string({ max: 100 }),
  actor_type: f.enum(["token", "admin", "cli", "system"] as const),
  target_type: f.string({ max: 100 }),
  target_id: f.integer({ min: 0 }),
  created_after: f.timeFilter(),
  created_before: f.timeFilter(),
};

/** §2.6 GET /audit_log — access_tokens_read and scope `all`; id ascending like every offset list (§1.5). */
export const auditLogRoutes = (deps: Deps) =>
  new Elysia().use(authPlugin(deps)).get(
    "/audit_log",
    ({ input }) => {
      const page = offsetParams(input);
      const { values, warnings } = readFields(Filters, input, { partial: true });
      const { rows, total } = listAudit(deps.db, values as AuditFilters, page.limit, page.offset);
      return offsetEnvelope(rows, total, { ...page, warnings: [...page.warnings, ...warnings] });
    },
    { permission: { permission: "access_tokens_read", scopeAll: true } },
  );
