import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createTestToken } from "../fixtures";
import { fakeClock, startTestServer, type TestServer } from "../harness";

const UNAUTHORIZED = { error: "Unauthorized", message: "Invalid or missing API token" };

describe("happy", () => {
  let server: TestServer;
  beforeAll(async () => (server = await startTestServer({ env: { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } })));
  afterAll(() => server.stop());

  test("every authenticated response describes the charged bucket", async () => {
    const token = createTestToken(server.deps, { preset: "transactional" });
    const res = await server.request("GET", "/api/v1/whoami", { token });
    expect(res.headers.get("x-ratelimit-limit")).toBe("120");
    expect(res.headers.get("x-ratelimit-remaining")).toBe("119");
    expect(Number(res.headers.get("x-ratelimit-reset"))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    expect(res.headers.get("ratelimit-policy")).toBe('"general";q=120;w=60, "send";q=600;w=60');
    expect(res.headers.get("ratelimit")).toMatch(/^"general";r=119;t=\d+$/);
    expect(res.body.rate_limits.general).toMatchObject({ limit: 120, remaining: 119, window_seconds: 60 });
    const forbidden = await server.request("GET", "/api/v1/channels", { token });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("x-ratelimit-remaining")).toBe("118");
  });

  test("a refused body or query is answered after authentication, charge and permission (§2.1 order)", async () => {
    const post = (path: string, token: string | null, body: string, type = "application/json") =>
      server.request("POST", path, { token, body, headers: { "content-type": type } });
    // Anonymous: 401 whatever the body, so nothing is learnt from it.
    for (const [body, type] of [["{bad", "application/json"], ["a=1", "application/x-www-form-urlencoded"], [JSON.stringify({ name: "x".repeat(3 * 1024 * 1024) }), "application/json"]]) {
      const res = await post("/api/v1/channels", null, body, type);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(UNAUTHORIZED);
    }
    expect((await server.request("GET", "/api/v1/whoami?a=%zz", { token: null })).status).toBe(401);
    // Authenticated without the permission: 403, charged.
    const reader = createTestToken(server.deps, { preset: "transactional" });
    const denied = await post("/api/v1/channels", reader, "{bad");
    expect(denied.status).toBe(403);
    expect(denied.headers.get("x-ratelimit-remaining")).toBe("119");
    // Permitted: the body's own error, charged to the bucket like any request.
    const writer = createTestToken(server.deps, { preset: "all", scope: "all" });
    const bad = await post("/api/v1/channels", writer, "{bad");
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: "Invalid JSON body" });
    expect(bad.headers.get("x-ratelimit-remaining")).toBe("119");
    const form = await post("/api/v1/channels", writer, "a=1", "application/x-www-form-urlencoded");
    expect(form.status).toBe(415);
    expect(form.headers.get("x-ratelimit-remaining")).toBe("118");
    const query = await server.request("GET", "/api/v1/whoami?a=%zz", { token: writer });
    expect(query.status).toBe(400);
    expect(query.body).toEqual({ error: "Invalid query string" });
    expect(query.headers.get("x-ratelimit-remaining")).toBe("117");
  });

  test("exactness: N concurrent requests on a bucket of C → exactly min(N, C) succeed", async () => {
    const token = createTestToken(server.deps, { preset: "transactional", rate_limits: { general_per_minute: 7 } });
    const results = await Promise.all(Array.from({ length: 25 }, () => server.request("GET", "/api/v1/whoami", { token })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(7);
    expect(statuses.filter((s) => s === 429)).toHaveLength(18);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.body).toEqual({ error: "Rate limit exceeded. Please retry later." });
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
  });

  test("IP allowlist: IPv4, IPv6 and IPv4-mapped IPv6 client addresses", async () => {
    const token = createTestToken(server.deps, { preset: "transactional", allowed_ips: ["203.0.113.0/24", "2001:db8::/32"] });
    const from = (ip: string) => server.request("GET", "/api/v1/whoami", { token, headers: { "x-forwarded-for": ip } });
    expect((await from("203.0.113.9")).status).toBe(200);
    expect((await from("::ffff:203.0.113.10")).status).toBe(200);
    expect((await from("2001:db8::1")).status).toBe(200);
    const denied = await from("198.51.100.7");
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ error: "Forbidden", message: "Request IP 198.51.100.7 is not allowed for this token" });
    expect((await from("2001:db9::1")).status).toBe(403);
  });

  test("the client IP is the right-most untrusted X-Forwarded-For hop", async () => {
    const token = createTestToken(server.deps, { preset: "transactional", allowed_ips: ["203.0.113.5"] });
    const res = await server.request("GET", "/api/v1/whoami", { token, headers: { "x-forwarded-for": "198.51.100.1, 203.0.113.5, 127.0.0.1" } });
    expect(res.status).toBe(200);
  });

  test("usage stats are kept without a write per request (flushed within 2 s)", async () => {
    const token = createTestToken(server.deps, { preset: "transactional" });
    for (let i = 0; i < 5; i++) await server.request("GET", "/api/v1/whoami", { token, headers: { "x-forwarded-for": "203.0.113.77" } });
    const id = (await server.request("GET", "/api/v1/whoami", { token, headers: { "x-forwarded-for": "203.0.113.77" } })).body.token.id;
    await Bun.sleep(1500);
    const [row] = server.sql("SELECT request_count, last_used_ip, last_used_at FROM access_tokens WHERE id = ?", id);
    expect(row.request_count).toBe(6);
    expect(row.last_used_ip).toBe("203.0.113.77");
    expect(row.last_used_at).not.toBeNull();
  });
});

describe("errors", () => {
  let server: TestServer;
  const clock = fakeClock(Date.now());
  beforeAll(async () => (server = await startTestServer({ clock, env: { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } })));
  afterAll(() => server.stop());
  let ipCounter = 0;
  const freshIp = () => ({ "x-forwarded-for": `192.0.2.${++ipCounter}` });

  test.each([
    { name: "missing header", headers: {} as Record<string, string> },
    { name: "other scheme", headers: { authorization: "Basic abc" } },
    { name: "malformed", headers: { authorization: "Bearer nope" } },
    { name: "bad checksum", headers: { authorization: "Bearer mr_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" } },
    { name: "unknown well-formed token", headers: { authorization: "" } },
  ])("$name → 401", async ({ name, headers }) => {
    const h: Record<string, string> = { ...headers, ...freshIp() };
    if (name === "unknown well-formed token") {
      const { generateToken } = await import("@/lib/tokens");
      h.authorization = `Bearer ${generateToken()}`;
    }
    const res = await server.request("GET", "/api/v1/whoami", { token: null, headers: h });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(UNAUTHORIZED);
  });

  test("scheme is case-insensitive", async () => {
    const token = createTestToken(server.deps, { preset: "transactional" });
    expect((await server.request("GET", "/api/v1/whoami", { token: null, headers: { authorization: `bEaReR ${token}` } })).status).toBe(200);
  });

  test("expired token → 401 with its own message, on the very next request", async () => {
    const token = createTestToken(server.deps, { preset: "transactional", expires_at: clock.now() + 60_000 });
    expect((await server.request("GET", "/api/v1/whoami", { token, headers: freshIp() })).status).toBe(200);
    clock.advance(60_001);
    const res = await server.request("GET", "/api/v1/whoami", { token, headers: freshIp() });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: "Unauthorized", message: "API token has expired" });
  });

  test("api_key in query or body → 401 even with a valid header", async () => {
    const token = createTestToken(server.deps, { preset: "all", scope: "all" });
    const message = "Pass the API token in the Authorization header (Bearer); api_key is not supported";
    const q = await server.request("GET", `/api/v1/whoami?api_key=${token}`, { token, headers: freshIp() });
    expect(q.body).toEqual({ error: "Unauthorized", message });
    const b = await server.request("POST", "/api/v1/channels", { token, body: { api_key: token, name: "X" }, headers: freshIp() });
    expect(b.status).toBe(401);
    expect(b.body.message).toBe(message);
  });

  test("failed authentication is limited to 30/min per IP; a valid token from that IP still works", async () => {
    const ip = { "x-forwarded-for": "192.0.2.250" };
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) statuses.push((await server.request("GET", "/api/v1/whoami", { token: null, headers: ip })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30)).toEqual([429, 429]);
    const token = createTestToken(server.deps, { preset: "transactional" });
    expect((await server.request("GET", "/api/v1/whoami", { token, headers: ip })).status).toBe(200);
    clock.advance(60_000);
    expect((await server.request("GET", "/api/v1/whoami", { token: null, headers: ip })).status).toBe(401);
  });
});

describe("security", () => {
  let server: TestServer;
  afterEach(() => server?.stop());

  test("token values never reach the database file, its WAL, or the logs", async () => {
    server = await startTestServer();
    const created = await server.request("POST", "/api/v1/access_tokens", { body: { name: "secret", preset: "all", scope: "all" } });
    const value: string = created.body.token;
    for (let i = 0; i < 3; i++) await server.request("GET", "/api/v1/whoami", { token: value });
    const refreshed = await server.request("POST", `/api/v1/access_tokens/${created.body.id}/refresh`, { token: value, body: { grace_period_seconds: 60 } });
    await server.request("GET", "/api/v1/whoami", { token: value });
    await server.request("GET", "/api/v1/whoami", { token: refreshed.body.token });
    server.deps.auth.usage.flush();
    const values = [value, refreshed.body.token, server.defaultToken, server.adminToken];
    const files = readdirSync(server.dataDir).map((f) => join(server.dataDir, f));
    expect(files.some((f) => f.endsWith("-wal"))).toBe(true);
    for (const file of files) {
      const bytes = readFileSync(file).toString("latin1");
      for (const v of values) expect({ file, leaked: bytes.includes(v) || bytes.includes(v.slice(3)) }).toEqual({ file, leaked: false });
    }
    const logs = server.log.text();
    expect(logs).toContain('"event":"request"');
    for (const v of values) expect(logs.includes(v)).toBe(false);
  });

  test("a token revoked or created by the CLI takes effect on the server's next request", async () => {
    server = await startTestServer();
    const token = createTestToken(server.deps, { name: "cli target", preset: "transactional" });
    const id = (await server.request("GET", "/api/v1/whoami", { token })).body.token.id;
    const cli = (...args: string[]) =>
      Bun.spawnSync(["bun", "src/main.ts", ...args, "--data-dir", server.dataDir], { cwd: join(import.meta.dir, "../..") });
    const revoked = cli("token", "revoke", String(id));
    expect(revoked.exitCode).toBe(0);
    expect((await server.request("GET", "/api/v1/whoami", { token })).status).toBe(401);
    const created = cli("token", "create", "--name", "from cli", "--preset", "transactional", "--json");
    expect(created.exitCode).toBe(0);
    const made = JSON.parse(created.stdout.toString());
    const res = await server.request("GET", "/api/v1/whoami", { token: made.token });
    expect(res.status).toBe(200);
    expect(res.body.token.name).toBe("from cli");
    const audit = await server.request("GET", "/api/v1/audit_log?actor_type=cli");
    expect(audit.body.data.map((r: { action: string }) => r.action)).toEqual(["access_token.deleted", "access_token.created"]);
  });

  test("plain HTTP is refused (403 before auth) unless loopback or a trusted proxy says https", async () => {
    server = await startTestServer({ env: { MAILROOM_REQUIRE_HTTPS: "1", MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } });
    const token = createTestToken(server.deps, { preset: "transactional" });
    const viaProxy = (proto: string) => server.request("GET", "/api/v1/whoami", { token, headers: { "x-forwarded-for": "203.0.113.1", "x-forwarded-proto": proto } });
    const insecure = await viaProxy("http");
    expect(insecure.status).toBe(403);
    expect(insecure.body).toEqual({ error: "Forbidden", message: "HTTPS required" });
    expect((await viaProxy("https")).status).toBe(200);
    // Any case; behind a chain of proxies the first value is the client's scheme.
    expect((await viaProxy("HTTPS")).status).toBe(200);
    expect((await viaProxy("https, http")).status).toBe(200);
    expect((await viaProxy("http, https")).status).toBe(403);
    expect((await server.request("GET", "/healthz", { token: null, headers: { "x-forwarded-for": "203.0.113.1" } })).status).toBe(200);
    // Public pages: GET and HEAD are redirected to the public URL, other methods refused.
    const page = (method: string) => fetch(`${server.url}/admin`, { method, redirect: "manual", headers: { "x-forwarded-for": "203.0.113.1", "x-forwarded-proto": "http" } });
    for (const method of ["GET", "HEAD"]) {
      const res = await page(method);
      expect(res.status).toBe(308);
      expect(res.headers.get("location")).toBe(`${server.deps.config.publicUrl.replace(/\/$/, "")}/admin`);
    }
    expect((await page("POST")).status).toBe(403);
  });

  test("loopback is always allowed when HTTPS is required", async () => {
    server = await startTestServer({ env: { MAILROOM_REQUIRE_HTTPS: "1" } });
    expect((await server.request("GET", "/api/v1/whoami", { token: server.defaultToken })).status).toBe(200);
  });
});
