/**
 * The route matrix (Unkey's runSharedRoleTests): walks every registered /api/v1 route of the real
 * app — including routes added later, with no edit here — and proves for each:
 *   it declares exactly one access rule: a permission, any valid token, or public (no token);
 *   public routes answer without a token; every other route: no token → 401;
 *   a token with every permission but the route's → 403 naming it;
 *   the right permissions but a selector outside the token's channels → 403;
 *   scope-all routes refuse channel-scoped tokens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiRoutes, createApp } from "@/app";
import { PERMISSIONS, type Permission } from "@/auth/permissions";
import type { RouteInfo } from "@/features/discovery/service";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
/** The routes that take a token. */
let routes: RouteInfo[];
let publicRoutes: RouteInfo[];
let allRoutes: { method: string; path: string; hooks?: { detail?: Record<string, unknown> } }[];
let fakeIp = 0;

beforeAll(async () => {
  // Limits off so the walk is not throttled; a trusted proxy lets each unauthenticated request come
  // from its own client IP (the failed-auth limiter counts per IP).
  server = await startTestServer({
    env: { MAILROOM_RATE_LIMIT_GENERAL: "0", MAILROOM_RATE_LIMIT_SEND: "0", MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" },
  });
  createTestChannel(server.deps, "Other");
  const app = createApp(server.deps);
  allRoutes = app.routes as never;
  const declared = apiRoutes(allRoutes);
  routes = declared.filter((r) => r.access !== "public");
  publicRoutes = declared.filter((r) => r.access === "public");
});
afterAll(() => server.stop());

const concrete = (path: string) => path.replace(":id_or_slug", "default").replace(/:[a-z_]+/g, "1");
const call = (r: RouteInfo, token: string | null, query = "") =>
  server.request(r.method, concrete(r.path) + query, {
    token,
    body: r.method === "GET" || r.method === "HEAD" ? undefined : {},
    headers: { "x-forwarded-for": `198.51.100.${(fakeIp++ % 250) + 1}` },
  });

describe("permissions", () => {
  test("every /api/v1 route declares exactly one rule: a permission, any token, or public", () => {
    const api = allRoutes.filter((r) => r.path.startsWith("/api/v1/"));
    const rules = api.map((r) => {
      const d = r.hooks?.detail ?? {};
      const permissions = (d["x-required-permissions"] as string[] | undefined) ?? [];
      const rule = d["x-access"] === "permission" && permissions.length > 0 ? "permission" : d["x-access"] !== "permission" && permissions.length === 0 ? d["x-access"] : "inconsistent";
      return { route: `${r.method} ${r.path}`, rule, publishedTo: { security: d.security, summary: typeof d.summary } };
    });
    for (const r of rules) {
      expect(r).toEqual({ route: r.route, rule: expect.stringMatching(/^(permission|any_token|public)$/), publishedTo: expect.anything() });
      // The OpenAPI operation says the same: public routes need no bearer token, the others do.
      expect(r.publishedTo).toEqual({ security: r.rule === "public" ? [] : [{ bearer: [] }], summary: "string" });
    }
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(publicRoutes.map((r) => `${r.method} ${r.path}`)).toContain("GET /api/v1/openapi");
  });

  test("public routes answer without a token, and the same with any Authorization header", async () => {
    for (const r of publicRoutes) {
      const anonymous = await call(r, null);
      const garbage = await call(r, "not-a-token");
      expect({ route: `${r.method} ${r.path}`, anonymous: anonymous.status, garbage: garbage.status }).toEqual({ route: `${r.method} ${r.path}`, anonymous: 200, garbage: 200 });
    }
  });

  test("no token → 401 on every route", async () => {
    for (const r of routes) {
      const res = await call(r, null);
      expect({ route: `${r.method} ${r.path}`, status: res.status, body: res.body }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 401,
        body: { error: "Unauthorized", message: "Invalid or missing API token" },
      });
    }
  });

  test("a token with every permission except the route's → 403 naming it", async () => {
    for (const r of routes.filter((r) => r.permissions.length > 0)) {
      for (const missing of r.permissions as Permission[]) {
        const token = createTestToken(server.deps, { scope: "all", permissions: PERMISSIONS.filter((p) => p !== missing) });
        const res = await call(r, token);
        expect({ route: `${r.method} ${r.path}`, status: res.status, required: res.body.required_permission }).toEqual({
          route: `${r.method} ${r.path}`,
          status: 403,
          required: missing,
        });
        expect(res.body.message).toBe("Insufficient permissions for this action");
      }
    }
  });

  test("the right permissions but a channel outside the token's → 403", async () => {
    const token = createTestToken(server.deps, { scope: "channels", channels: ["other"], preset: "all" });
    for (const r of routes.filter((r) => !r.scopeAll)) {
      const res = await call(r, token, "?channel=default");
      expect({ route: `${r.method} ${r.path}`, status: res.status, body: res.body }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 403,
        body: { error: "Forbidden", message: "Token is not scoped to channel(s): default" },
      });
    }
  });

  test("scope-all routes refuse channel-scoped tokens that have the permission", async () => {
    const token = createTestToken(server.deps, { scope: "channels", channels: ["default"], preset: "all" });
    const scopeAll = routes.filter((r) => r.scopeAll);
    expect(scopeAll.length).toBeGreaterThan(0);
    for (const r of scopeAll) {
      const res = await call(r, token);
      expect({ route: `${r.method} ${r.path}`, status: res.status, message: res.body.message }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 403,
        message: "This action requires a token with scope all",
      });
    }
  });
});
