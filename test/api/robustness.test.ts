/**
 * Bad input never yields a 5xx: every registered /api/v1 route (including routes added later, with
 * no edit here) gets a seeded stream of malformed bodies, queries and path values from an
 * all-permissions token, and must answer each with a status below 500. Bodies nested past the
 * 64-level limit get a 400, and a caller the permission check refuses is answered unread.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { apiRoutes, createApp } from "@/app";
import type { RouteInfo } from "@/features/discovery/service";
import { createTestToken } from "../fixtures";
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

describe("deep nesting", () => {
  const LIMIT_REFUSAL = { error: "Invalid JSON body", message: "JSON nesting exceeds 64 levels" };
  const nestedObject = (levels: number) => '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
  const nestedArray = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
  const transactional = (data: string) => `{"to":"ada@example.com","subject":"s","body":"b","data":${data}}`;
  const DEEP_BODIES: [string, string][] = [
    ["/api/v1/transactionals", transactional(nestedObject(20_000))],
    ["/api/v1/transactionals", transactional(nestedArray(20_000))],
    ["/api/v1/subscribers", `{"email":"deep@example.com","custom_data":${nestedObject(120_000)}}`],
    ["/api/v1/access_tokens", `{"name":"deep","permissions":${nestedObject(120_000)}}`],
    ["/api/v1/access_tokens", `{"name":"deep","permissions":${nestedArray(120_000)}}`],
    ["/api/v1/suppressions/bulk", `{"emails":${nestedArray(120_000)}}`],
    ["/api/v1/templates", `{"label":"deep","subject":"s","body":"b","confirmation_page_settings":${nestedObject(120_000)}}`],
  ];

  test("a body nested past 64 levels → 400 naming the limit on every route, with or without Idempotency-Key", async () => {
    for (const [path, body] of DEEP_BODIES) {
      for (const headers of [{}, { "idempotency-key": "deep-1" }] as Record<string, string>[]) {
        const res = await server.request("POST", path, { body, headers });
        expect({ path, headers, status: res.status, body: res.body }).toEqual({ path, headers, status: 400, body: LIMIT_REFUSAL });
      }
    }
  });

  test("the dashboard's writes refuse it the same way", async () => {
    const origin = new URL(server.deps.config.publicUrl).origin;
    const login = await server.request("POST", "/admin/api/login", { token: null, body: { email: "admin", password: "test-admin-password" }, headers: { origin } });
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    const writes: [string, string, string][] = [
      ...DEEP_BODIES.map(([path, body]): [string, string, string] => ["POST", path.replace("/api/", "/admin/api/"), body]),
      ["PATCH", "/admin/api/v1/channels/default", `{"channel":${nestedObject(120_000)}}`],
      ["POST", "/admin/api/users", `{"user":${nestedObject(120_000)}}`],
      ["POST", "/admin/api/login", `{"email":${nestedArray(120_000)}}`],
    ];
    for (const [method, path, body] of writes) {
      const res = await server.request(method, path, { token: null, body, headers: { origin, cookie } });
      expect({ path, status: res.status, body: res.body }).toEqual({ path, status: 400, body: LIMIT_REFUSAL });
    }
  });

  test("exactly 64 levels are accepted; brackets inside strings (escaped quotes included) do not count", async () => {
    const sent = await server.request("POST", "/api/v1/transactionals", { body: transactional(nestedObject(63)) });
    expect(sent.status).toBe(201);
    const one = await server.request("POST", "/api/v1/transactionals", { body: transactional(nestedObject(64)) });
    expect(one.body).toEqual(LIMIT_REFUSAL);
    const inStrings = transactional(`{"s":"\\"${"[{".repeat(100)}\\\\","t":"\\\\\\"${"{".repeat(100)}"}`);
    expect((await server.request("POST", "/api/v1/transactionals", { body: inStrings })).status).toBe(201);
    // An escaped backslash ends its string: the brackets after it are structure again.
    const after = transactional(`{"s":"\\\\","t":${nestedArray(100)}}`);
    expect((await server.request("POST", "/api/v1/transactionals", { body: after })).body).toEqual(LIMIT_REFUSAL);
  });
});

describe("a caller the permission check refuses", () => {
  /**
   * Sends the headers and half of a declared body, never the rest: a server that reads the body
   * before refusing never answers; one that refuses first answers at once.
   */
  function sendHalfABody(path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const port = Number(new URL(server.url).port);
    const half = `{"to":"ada@example.com","data":${"[".repeat(50_000)}`;
    const head = Object.entries({ "content-type": "application/json", "content-length": String(half.length * 2), ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.write(`POST ${path} HTTP/1.1\r\nHost: mailroom.test\r\n${head}\r\n${half}`));
      let text = "";
      socket.on("data", (d) => {
        text += d.toString();
        const end = text.indexOf("\r\n\r\n");
        const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN);
        if (end < 0 || text.length < end + 4 + length) return;
        socket.destroy();
        resolve({ status: Number(text.split(" ")[1]), body: JSON.parse(text.slice(end + 4, end + 4 + length)) });
      });
      socket.on("error", reject);
    });
  }

  test("is answered without its body being read: 401 anonymous, 403 without the permission, Idempotency-Key or not", async () => {
    const noPermission = createTestToken(server.deps, { name: "nothing", preset: "none" });
    const readOnly = createTestToken(server.deps, { name: "reader", preset: "read_only", scope: "all" });
    for (const key of [{}, { "idempotency-key": "half-1" }] as Record<string, string>[]) {
      const anonymous = await sendHalfABody("/api/v1/transactionals", key);
      expect(anonymous.status).toBe(401);
      for (const [token, path, permission] of [
        [noPermission, "/api/v1/transactionals", "transactionals_write"],
        [readOnly, "/api/v1/subscribers", "subscribers_write"],
        [readOnly, "/api/v1/access_tokens", "access_tokens_write"],
      ]) {
        const refused = await sendHalfABody(path, { ...key, authorization: `Bearer ${token}` });
        expect({ path, status: refused.status, body: refused.body }).toEqual({
          path,
          status: 403,
          body: { error: "Forbidden", message: "Insufficient permissions for this action", required_permission: permission },
        });
      }
    }
    // The dashboard: no session, no body read.
    const origin = new URL(server.deps.config.publicUrl).origin;
    for (const path of ["/admin/api/v1/transactionals", "/admin/api/users"]) expect((await sendHalfABody(path, { origin })).status).toBe(401);
  });
});
