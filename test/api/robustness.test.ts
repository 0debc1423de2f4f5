/**
 * Bad input never yields a 5xx: every registered /api/v1 route (including routes added later, with
 * no edit here) gets a seeded stream of malformed bodies, queries and path values from an
 * all-permissions token, and must answer each with a status below 500.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { apiRoutes, createApp } from "@/app";
import type { RouteInfo } from "@/features/discovery/service";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
let routes: RouteInfo[];
beforeAll(async () => {
  server = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0", MAILROOM_RATE_LIMIT_SEND: "0" } });
  routes = apiRoutes(createApp(server.deps).routes as never);
  // Some records so by-id routes reach their handlers' validation.
  await server.request("POST", "/api/v1/subscribers", { body: { channel: "default", email: "ada@example.com" } });
});
afterAll(() => server.stop());

function prng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

const ODD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, "", " ", "x".repeat(5000), "🙂\u0000\u202e", "<script>", "1; DROP TABLE x",
  [], [null], [1, "a", {}], {}, { a: { b: { c: { d: { e: 1 } } } } }, { __proto__: { polluted: 1 } }, "2026-13-45T99:99:99Z", "true", "999999999999999999999",
];
const FIELD_NAMES = [
  "email", "name", "label", "subject", "body", "to", "tags", "custom_data", "permissions", "preset", "scope", "channels", "allowed_ips",
  "expires_at", "rate_limits", "page", "per_page", "limit", "offset", "is_active", "template_id", "data", "segment_groups_attributes",
  "emails", "reason", "mode", "subscribers", "smtp_port", "smtp_address", "priority", "grace_period_seconds", "confirm", "target_channel_id",
  "email_server", "subscriber", "template", "segment", "access_token", "channel", "broadcast_channel_id", "target", "sender_email",
  "monthly_send_quota", "timezone", "custom_data_mode", "tag_match_type", "status", "since", "created_after", "idempotency", "constructor", "toString",
];

function junkBody(rand: () => number): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const n = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const key = FIELD_NAMES[Math.floor(rand() * FIELD_NAMES.length)];
    const value = ODD_VALUES[Math.floor(rand() * ODD_VALUES.length)];
    body[key] = rand() < 0.3 ? { [FIELD_NAMES[Math.floor(rand() * FIELD_NAMES.length)]]: value } : value;
  }
  return body;
}

const PATH_VALUES = ["1", "0", "999999999", "abc", "1.5", "-1", "%00", "default", "9007199254740993"];
const QUERIES = ["", "?page=-1&per_page=abc", "?limit=1e9&offset=-5", "?tags[]=a&tags[x]=b", "?channel[]=x", "?target[channels]=", "?email=%F0%9F%99%82", "?created_after=garbage&since=nope", "?a[b][c][d][e][f][g]=1"];

test("no route answers bad input with a 5xx", async () => {
  const rand = prng(Number(process.env.ROBUSTNESS_SEED ?? 7));
  const failures: string[] = [];
  for (const r of routes) {
    for (let i = 0; i < 12; i++) {
      const path = r.path.replace(/:[a-z_]+/g, () => PATH_VALUES[Math.floor(rand() * PATH_VALUES.length)]) + QUERIES[Math.floor(rand() * QUERIES.length)];
      const body = r.method === "GET" || r.method === "HEAD" ? undefined : junkBody(rand);
      const res = await server.request(r.method, path, { body });
      if (res.status >= 500) failures.push(`${r.method} ${path} ${JSON.stringify(body)} → ${res.status} ${res.text.slice(0, 200)}`);
      else if (typeof res.body === "object" && res.body && res.status >= 400) expect(typeof res.body.error).toBe("string");
    }
  }
  expect(failures).toEqual([]);
});

test("no dashboard route answers bad input with a 5xx", async () => {
  const origin = new URL(server.deps.config.publicUrl).origin;
  const login = await fetch(`${server.url}/admin/api/login`, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify({ email: "admin", password: "test-admin-password" }),
  });
  const cookie = login.headers.get("set-cookie")!.split(";")[0];
  const dashboard = (createApp(server.deps).routes as { method: string; path: string }[]).filter((r) => r.path.startsWith("/admin/api/") && r.method !== "ALL");
  expect(dashboard.length).toBeGreaterThanOrEqual(8);
  const rand = prng(Number(process.env.ROBUSTNESS_SEED ?? 7));
  const failures: string[] = [];
  for (const r of dashboard) {
    for (let i = 0; i < 12; i++) {
      const path = r.path.replace(/:[a-z_]+/g, () => PATH_VALUES[Math.floor(rand() * PATH_VALUES.length)]) + QUERIES[Math.floor(rand() * QUERIES.length)];
      const body = r.method === "GET" ? undefined : junkBody(rand);
      const res = await server.request(r.method, path, { token: null, body, headers: { origin, cookie } });
      if (res.status >= 500) failures.push(`${r.method} ${path} ${JSON.stringify(body)} → ${res.status} ${res.text.slice(0, 200)}`);
    }
  }
  expect(failures).toEqual([]);
});
