/**
 * createApp(deps): the Elysia application with every feature mounted under /api/v1. Never listens
 * (main.ts and the tests share it).
 */
import { Elysia } from "elysia";
import type { Deps } from "./deps";
import { PendingBody } from "./http/compat";
import { isBusy, isStorageFailure, sqliteCode } from "./db/errors";
import { AppError } from "./lib/errors";
import { codeToStatus, errorBody } from "./http/errors";
import { DatabaseHealth, storageRetryHeaders, storageUnavailable } from "./http/health";
import { requestMeta } from "./http/request";
import { createAllowLookup } from "./http/routes-table";
import { accessTokenRoutes } from "./features/access_tokens/routes";
import { auditLogRoutes } from "./features/audit_log/routes";
import { bounceRoutes } from "./features/bounces/routes";
import { capturedMessageRoutes } from "./features/captured_messages/routes";
import { channelRoutes } from "./features/channels/routes";
import { discoveryRoutes } from "./features/discovery/routes";
import { emailServerRoutes } from "./features/email_servers/routes";
import { broadcastRoutes } from "./features/broadcasts/routes";
import { sequenceRoutes } from "./features/sequences/routes";
import { templateRoutes } from "./features/templates/routes";
import { trackingRoutes } from "./features/tracking/routes";
import { confirmationRoutes } from "./features/confirmation/routes";
import { optInFormRoutes } from "./features/opt_in_forms/routes";
import { hostedFormRoutes } from "./features/hosted_forms/routes";
import { providerHookRoutes } from "./features/provider_hooks/routes";
import { transactionalRoutes } from "./features/transactionals/routes";
import { subscriberRoutes } from "./features/subscribers/routes";
import { suppressionRoutes } from "./features/suppressions/routes";
import { segmentRoutes } from "./features/segments/routes";
import { eventRoutes } from "./features/events/routes";
import { webhookRoutes } from "./features/webhooks/routes";
import { reputationRoutes } from "./features/reputation/routes";
import { adminRoutes } from "./admin/routes";
import { metricsRoutes } from "./metrics/routes";
import { apiDocsRoutes, openApiRoutes } from "./http/api-docs";
import type { RegisteredRoute } from "./http/openapi";
import type { RouteInfo } from "./features/discovery/service";
import { VERSION } from "./version";

/** Every /api/v1 feature; the dashboard mirror (/admin/api/v1) mounts the same list. */
export const apiFeatures = (deps: Deps, routes: () => readonly RouteInfo[]) => [
  discoveryRoutes(deps, routes),
  accessTokenRoutes(deps),
  channelRoutes(deps),
  auditLogRoutes(deps),
  capturedMessageRoutes(deps),
  templateRoutes(deps),
  subscriberRoutes(deps),
  suppressionRoutes(deps),
  bounceRoutes(deps),
  segmentRoutes(deps),
  emailServerRoutes(deps),
  transactionalRoutes(deps),
  broadcastRoutes(deps),
  sequenceRoutes(deps),
  eventRoutes(deps),
  webhookRoutes(deps),
  reputationRoutes(deps),
  optInFormRoutes(deps),
];

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
const HEALTHY = { status: "ok", version: VERSION, db: "ok" } as const;

export function createApp(deps: Deps) {
  const health = new DatabaseHealth(deps);
  const api = new Elysia({ prefix: "/api/v1" });
  let routeInfo: RouteInfo[] | null = null;
  const routes = () => (routeInfo ??= apiRoutes(app.routes));
  for (const feature of apiFeatures(deps, routes)) api.use(feature);
  api.use(openApiRoutes(deps, () => app.routes));

  const app = new Elysia()
    // Elysia's default for a returned object is `application/json;charset=utf-8`; §1.3 spells it
    // with a space. Responses built by hand (text, HTML, CSV) keep their own Content-Type.
    .headers({ ...JSON_HEADERS, "cache-control": "no-store", ...(deps.config.tlsCert ? { "strict-transport-security": "max-age=31536000" } : {}) })
    .onRequest(({ request, set }) => {
      set.headers["x-request-id"] = requestMeta(request).id;
    })
    // Bodies are read when a handler asks, after authentication and the permission check (compat.ts).
    .onParse(({ request }) => new PendingBody(request, deps.config.maxBodyBytes))
    .onError(({ error, code, request, set, path }) => {
      const meta = requestMeta(request);
      const sqlite = sqliteCode(error);
      let e: AppError;
      if (error instanceof AppError) e = error;
      else if (code === "NOT_FOUND") {
        const allow = allowed(path.replace(/\.json$/, ""));
        e = allow.length ? new AppError("method_not_allowed", "Method Not Allowed", {}, { allow: allow.join(", ") }) : new AppError("not_found", "Not Found");
      } else if (code === "PARSE") e = new AppError("bad_request", "Invalid JSON body");
      else if (isBusy(sqlite)) e = new AppError("unavailable", "Server error (503): service unavailable", {}, { "retry-after": "5" });
      else if (isStorageFailure(sqlite)) {
        health.storageFailed(sqlite!);
        e = storageUnavailable();
      } else {
        deps.log.error("http.error", { request_id: meta.id, error: String(error), stack: (error as Error)?.stack });
        e = new AppError("internal", "Server error (500): internal", { request_id: meta.id });
      }
      return new Response(JSON.stringify(errorBody(e)), {
        status: codeToStatus[e.code],
        headers: { ...(set.headers as Record<string, string>), ...JSON_HEADERS, ...e.headers },
      });
    })
    // Before every other route: its hook records the matched route template for the metrics.
    .use(metricsRoutes(deps))
    .get("/healthz", () => {
      const db = health.check();
      if (db === "ok") return HEALTHY;
      const headers = db === "not_writable" ? { ...JSON_HEADERS, ...storageRetryHeaders } : JSON_HEADERS;
      return new Response(JSON.stringify({ status: "error", version: VERSION, db }), { status: 503, headers });
    })
    .use(api)
    .use(trackingRoutes(deps))
    .use(confirmationRoutes(deps))
    .use(hostedFormRoutes(deps))
    .use(providerHookRoutes(deps))
    .use(apiDocsRoutes())
    .use(adminRoutes(deps, (request): Promise<Response> => app.handle(request)));

  const allowed = createAllowLookup(() => app.routes);
  return app;
}

export type App = ReturnType<typeof createApp>;

/** The /api/v1 routes with the access rule their contract published (`permission` macro). */
export function apiRoutes(routes: readonly RegisteredRoute[]): RouteInfo[] {
  return routes
    .filter((r) => r.path.startsWith("/api/v1/") && r.hooks?.detail && "x-access" in r.hooks.detail)
    .map((r) => ({
      method: r.method,
      path: r.path,
      access: r.hooks!.detail!["x-access"] as RouteInfo["access"],
      summary: r.hooks!.detail!.summary as string,
      permissions: r.hooks!.detail!["x-required-permissions"] as string[],
      scopeAll: !!r.hooks!.detail!["x-scope-all"],
    }));
}

