/**
 * The dashboard API (§19) over real HTTP: login/logout/me with the session cookie, brute-force
 * limits, the Origin check, admin users, `/admin/api/v1/*` mirroring every `/api/v1` route, the
 * static page's headers and the sandboxed captured-HTML preview.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { apiRoutes, createApp } from "@/app";
import { fakeClock, startTestServer, type TestServer } from "../harness";
import { deliverToCapture } from "../smtp/helpers";

const PASSWORD = "test-admin-password";
const clock = fakeClock();
let server: TestServer;
let origin: string;

interface Call {
  cookie?: string | null;
  body?: unknown;
  origin?: string | null;
  headers?: Record<string, string>;
}

async function call(method: string, path: string, o: Call = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.cookie) headers.cookie = o.cookie;
  const sendOrigin = o.origin === undefined ? origin : o.origin;
  if (sendOrigin) headers.origin = sendOrigin;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(server.url + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), redirect: "manual" });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body, text };
}

let loginIp = 0;

/** Logs in (each time from another client IP, clear of the per-IP limit) and returns the `name=value` cookie pair. */
async function login(email = "admin", password = PASSWORD) {
  const headers = { "x-forwarded-for": `10.9.${Math.floor(++loginIp / 250)}.${loginIp % 250}` };
  const res = await call("POST", "/admin/api/login", { body: { email, password }, headers });
  expect(res.status).toBe(200);
  return res.headers.get("set-cookie")!.split(";")[0];
}

beforeAll(async () => {
  server = await startTestServer({ dashboard: true, clock, env: { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } });
  origin = server.url;
});
afterAll(() => server.stop());

describe("happy", () => {
  test("login sets an HttpOnly SameSite=Strict session cookie; me answers with the user", async () => {
    const res = await call("POST", "/admin/api/login", { body: { email: "admin", password: PASSWORD }, headers: { "x-forwarded-for": "198.51.100.1" } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user: { id: expect.any(Number), email: "admin" } });
    const [cookie, device] = res.headers.getSetCookie();
    expect(device).toStartWith("mailroom_device="); // admin-device-cookie.test.ts
    expect(cookie).toMatch(/^mailroom_auth=[\w-]+\.[\w-]+\.[\w-]+; Path=\/admin; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    const me = await call("GET", "/admin/api/me", { cookie: cookie.split(";")[0] });
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe("admin");
    // Neither the password nor the session JWT is logged or stored.
    const jwt = cookie.split(";")[0].split("=")[1];
    expect(server.log.text()).not.toContain(PASSWORD);
    expect(server.log.text()).not.toContain(jwt);
    // The session row is keyed by the SHA-256 of the JWT's jti: a copy of the database yields no live session.
    const { jti } = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
    const rows = JSON.stringify(server.sql("SELECT * FROM admin_sessions"));
    expect(rows).not.toContain(jwt);
    expect(rows).not.toContain(jti);
    expect(rows).toContain(new Bun.CryptoHasher("sha256").update(jti).digest("hex"));
    const audit = server.sql("SELECT actor_type, action, ip FROM audit_log WHERE action = 'admin.login' ORDER BY id DESC LIMIT 1");
    expect(audit[0]).toEqual({ actor_type: "admin", action: "admin.login", ip: "198.51.100.1" });
  });

  test("logout clears the cookie and ends the session on the server", async () => {
    const cookie = await login();
    const out = await call("POST", "/admin/api/logout", { cookie });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await call("GET", "/admin/api/me", { cookie })).status).toBe(401);
  });

  test("the mirror runs /api/v1 routes as the admin: scope all, no token buckets, audited as admin", async () => {
    const cookie = await login();
    const list = await call("GET", "/admin/api/v1/channels.json", { cookie });
    expect(list.status).toBe(200);
    expect(list.body.data.map((c: { slug: string }) => c.slug)).toContain("default");
    expect(list.headers.get("x-ratelimit-limit")).toBeNull();
    const created = await call("POST", "/admin/api/v1/channels", { cookie, body: { channel: { name: "From dashboard" } } });
    expect(created.status).toBe(201);
    const renamed = await call("PUT", `/admin/api/v1/channels/${created.body.slug}`, { cookie, body: { channel: { name: "Renamed" } } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("Renamed");
    const rows = server.sql("SELECT actor_type, actor_label, action FROM audit_log WHERE target_type = 'channel' ORDER BY id");
    expect(rows).toEqual([
      { actor_type: "admin", actor_label: "admin", action: "channel.created" },
      { actor_type: "admin", actor_label: "admin", action: "channel.updated" },
    ]);
  });

  test("records created from the dashboard carry the system source `dashboard`", async () => {
    const cookie = await login();
    const sub = await call("POST", "/admin/api/v1/subscribers", { cookie, body: { channel: "default", subscriber: { email: "dash@example.com" } } });
    expect(sub.status).toBe(201);
    expect(sub.body.source).toBe("dashboard");
    const sup = await call("POST", "/admin/api/v1/suppressions", { cookie, body: { channel: "default", email: "blocked@example.com" } });
    expect(sup.status).toBe(201);
    expect(sup.body.source).toBe("dashboard");
  });

  test("a token minted from the dashboard works against /api/v1 (admins are exempt from no-escalation)", async () => {
    const cookie = await login();
    const res = await call("POST", "/admin/api/v1/access_tokens", { cookie, body: { access_token: { name: "Dash", preset: "read_only", scope: "all" } } });
    expect(res.status).toBe(201);
    expect(res.body.created_by.type).toBe("admin");
    expect((await server.request("GET", "/api/v1/subscribers", { token: res.body.token })).status).toBe(200);
    expect((await server.request("POST", "/api/v1/subscribers", { token: res.body.token, body: { email: "a@example.com" } })).status).toBe(403);
  });

  test("every /api/v1 route is reachable through the mirror with a session (never 401/403/5xx)", async () => {
    const cookie = await login();
    const routes = apiRoutes(createApp(server.deps).routes as never);
    expect(routes.length).toBeGreaterThan(40);
    for (const r of routes) {
      const path = "/admin" + r.path.replace(/:id_or_slug|:[a-z_]+/g, "999999");
      const res = await call(r.method, path, { cookie, body: r.method === "GET" ? undefined : {} });
      if (res.status === 401 || res.status === 403 || res.status >= 500) throw new Error(`${r.method} ${path} → ${res.status} ${res.text}`);
    }
  });

  test("admin users: create, list, change password (other sessions end), delete", async () => {
    const cookie = await login();
    const created = await call("POST", "/admin/api/users", { cookie, body: { user: { email: "Ops@Example.com", password: "another-long-password" } } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(Number), email: "ops@example.com", created_at: expect.any(String), updated_at: expect.any(String) });
    const list = await call("GET", "/admin/api/users", { cookie });
    expect(list.body.data.map((u: { email: string }) => u.email)).toEqual(["admin", "ops@example.com"]);

    const opsA = await login("ops@example.com", "another-long-password");
    const opsB = await login("ops@example.com", "another-long-password");
    const changed = await call("PATCH", `/admin/api/users/${created.body.id}`, { cookie: opsA, body: { password: "a-brand-new-password" } });
    expect(changed.status).toBe(200);
    expect((await call("GET", "/admin/api/me", { cookie: opsA })).status).toBe(200);
    expect((await call("GET", "/admin/api/me", { cookie: opsB })).status).toBe(401);
    expect((await call("POST", "/admin/api/login", { body: { email: "ops@example.com", password: "another-long-password" } })).status).toBe(401);

    const audit = server.sql("SELECT action, changes FROM audit_log WHERE target_type = 'admin_user' AND action LIKE 'admin_user.%' ORDER BY id");
    expect(audit.map((r) => r.action)).toEqual(["admin_user.created", "admin_user.updated"]);
    expect(JSON.parse(audit[1].changes)).toEqual({ password: ["[redacted]", "[redacted]"] });
    expect(JSON.stringify(server.sql("SELECT * FROM audit_log"))).not.toContain("another-long-password");

    const deleted = await call("DELETE", `/admin/api/users/${created.body.id}`, { cookie });
    expect(deleted.status).toBe(200);
    expect((await call("GET", "/admin/api/me", { cookie: opsA })).status).toBe(401);
  });

  test("the admin page is served with a strict CSP; / redirects to it", async () => {
    const page = await call("GET", "/admin");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.text).toContain("/admin/assets/app.js");
    const js = await call("GET", "/admin/assets/app.js");
    expect(js.headers.get("content-type")).toStartWith("text/javascript");
    const root = await call("GET", "/");
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/admin");
  });

  test("captured HTML is previewed in a sandbox with no scripts or network", async () => {
    const cookie = await login();
    const { response } = await deliverToCapture(server, {
      from: "noreply@localhost",
      to: "ada@example.com",
      subject: "Preview",
      html: '<p class="x">Hello <script>alert(1)</script><img src="https://tracker.example/p.gif"></p>',
    });
    const captureId = Number(/captured as (\d+)/.exec(response)![1]);
    const res = await call("GET", `/admin/api/preview/captured_messages/${captureId}`, { cookie });
    expect(res.status).toBe(200);
    expect(res.text).toContain("Hello");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toStartWith("sandbox;");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("script-src");
    expect((await call("GET", `/admin/api/preview/captured_messages/${captureId}`)).status).toBe(401);
    expect((await call("GET", `/admin/api/preview/captured_messages/987654`, { cookie })).status).toBe(404);
  });
});

describe("errors", () => {
  test("bad credentials → 401 and an audit row; the password is never recorded", async () => {
    const res = await call("POST", "/admin/api/login", { body: { email: "admin", password: "wrong-password-123" }, headers: { "x-forwarded-for": "198.51.100.2" } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: "Unauthorized", message: "Invalid email or password" });
    const unknown = await call("POST", "/admin/api/login", { body: { email: "nobody", password: "x" }, headers: { "x-forwarded-for": "198.51.100.2" } });
    expect(unknown.body).toEqual(res.body);
    const rows = server.sql("SELECT actor_label, ip FROM audit_log WHERE action = 'admin.login_failed' ORDER BY id DESC LIMIT 2");
    expect(rows).toEqual([
      { actor_label: "nobody", ip: "198.51.100.2" },
      { actor_label: "admin", ip: "198.51.100.2" },
    ]);
    expect(JSON.stringify(server.sql("SELECT * FROM audit_log"))).not.toContain("wrong-password-123");
  });

  test("missing fields → 422", async () => {
    const res = await call("POST", "/admin/api/login", { body: { email: "admin" } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ password: ["can't be blank"] });
  });

  test("state-changing requests without the public URL's Origin → 403", async () => {
    const cookie = await login();
    const expected = { error: "Forbidden", message: "Origin check failed" };
    expect((await call("POST", "/admin/api/login", { origin: null, body: { email: "admin", password: PASSWORD } })).body).toEqual(expected);
    const foreign = await call("POST", "/admin/api/v1/channels", { cookie, origin: "https://evil.example", body: { channel: { name: "X" } } });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toEqual(expected);
    expect((await call("DELETE", "/admin/api/users/1", { cookie, origin: null })).status).toBe(403);
    expect(server.sql("SELECT count(*) AS n FROM channels WHERE name = 'X'")[0].n).toBe(0);
    // Reads need no Origin.
    expect((await call("GET", "/admin/api/v1/channels", { cookie, origin: null })).status).toBe(200);
  });

  test("no, forged or expired session → 401 on every dashboard route", async () => {
    const expected = { error: "Unauthorized", message: "Invalid or missing session" };
    expect((await call("GET", "/admin/api/v1/channels")).body).toEqual(expected);
    expect((await call("GET", "/admin/api/users")).status).toBe(401);
    const forged = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer("mailroom").setSubject("1").setJti("x").setExpirationTime("1h").sign(new Uint8Array(32));
    expect((await call("GET", "/admin/api/me", { cookie: `mailroom_auth=${forged}` })).status).toBe(401);
    // A malformed body is answered after the session check: 401 without one, 400 with one.
    const malformed = (cookie?: string) =>
      fetch(server.url + "/admin/api/users", { method: "POST", headers: { origin, "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: "{bad" });
    expect((await malformed()).status).toBe(401);
    const cookie = await login();
    const bad = await malformed(cookie);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "Invalid JSON body" });
    const badLogin = await fetch(server.url + "/admin/api/login", { method: "POST", headers: { origin, "content-type": "application/json", "x-forwarded-for": "10.8.0.1" }, body: "{bad" });
    expect(badLogin.status).toBe(400);
    clock.advance(12 * 60 * 60 * 1000 + 1000);
    expect((await call("GET", "/admin/api/me", { cookie })).status).toBe(401);
  });

  test("every dashboard route but login refuses a request without a session (walks the app's routes)", async () => {
    const routes = (createApp(server.deps).routes as { method: string; path: string }[]).filter(
      (r) => r.path.startsWith("/admin/api/") && r.path !== "/admin/api/login",
    );
    expect(routes.length).toBeGreaterThanOrEqual(9);
    for (const r of routes) {
      const method = r.method === "ALL" ? "POST" : r.method;
      const res = await call(method, r.path.replace(/:id/, "1").replace("*", "channels"), { body: method === "GET" ? undefined : {} });
      if (res.status !== 401) throw new Error(`${method} ${r.path} → ${res.status} ${res.text}`);
    }
  });

  test("a bearer token does not open the dashboard API", async () => {
    const res = await call("GET", "/admin/api/v1/channels", { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(res.status).toBe(401);
  });

  test("passwords shorter than 12 characters, duplicate logins and deleting the last admin → 422", async () => {
    const cookie = await login();
    const short = await call("POST", "/admin/api/users", { cookie, body: { email: "x@example.com", password: "short" } });
    expect(short.status).toBe(422);
    expect(short.body.errors.password).toEqual(["is too short (minimum is 12 characters)"]);
    const dup = await call("POST", "/admin/api/users", { cookie, body: { email: "ADMIN", password: "long-enough-password" } });
    expect(dup.status).toBe(422);
    expect(dup.body.errors.email).toEqual(["has already been taken"]);
    const me = (await call("GET", "/admin/api/me", { cookie })).body.user;
    const last = await call("DELETE", `/admin/api/users/${me.id}`, { cookie });
    expect(last.status).toBe(422);
    expect(last.body.error).toBe("Cannot delete the last admin user");
    expect((await call("GET", "/admin/api/users/abc", { cookie })).status).toBe(404);
  });

  test("5 failures per login in 15 minutes → 429 even with the right password (without a device cookie); the window refills", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await call("POST", "/admin/api/login", { body: { email: "admin", password: "nope-nope-nope" }, headers: { "x-forwarded-for": `203.0.113.${i + 1}` } });
      expect(res.status).toBe(401);
    }
    const blocked = await call("POST", "/admin/api/login", { body: { email: "admin", password: PASSWORD }, headers: { "x-forwarded-for": "203.0.113.50" } });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toEqual({ error: "Too many login attempts. Please retry later." });
    // The 15-minute window refills one failure every 180 s.
    expect(blocked.headers.get("retry-after")).toBe("180");
    clock.advance(15 * 60 * 1000);
    expect((await call("POST", "/admin/api/login", { body: { email: "admin", password: PASSWORD }, headers: { "x-forwarded-for": "203.0.113.51" } })).status).toBe(200);
  });

  test("10 attempts per minute per IP → 429", async () => {
    const from = { "x-forwarded-for": "192.0.2.77" };
    for (let i = 0; i < 10; i++) {
      expect((await call("POST", "/admin/api/login", { body: { email: `user${i}`, password: "x" }, headers: from })).status).toBe(401);
    }
    const res = await call("POST", "/admin/api/login", { body: { email: "admin", password: PASSWORD }, headers: from });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBeTruthy();
  });
});

describe("behind HTTPS", () => {
  test("with an https public URL the session cookie is Secure and the Origin must be that URL's", async () => {
    const tls = await startTestServer({ env: { MAILROOM_PUBLIC_URL: "https://mail.example.com" } });
    try {
      const login = (origin: string) =>
        fetch(`${tls.url}/admin/api/login`, {
          method: "POST",
          headers: { origin, "content-type": "application/json" },
          body: JSON.stringify({ email: "admin", password: PASSWORD }),
        });
      expect((await login(tls.url)).status).toBe(403);
      const res = await login("https://mail.example.com");
      expect(res.status).toBe(200);
      const cookies = res.headers.getSetCookie();
      expect(cookies.map((c) => c.split("=")[0])).toEqual(["mailroom_auth", "mailroom_device"]);
      for (const cookie of cookies) expect(cookie).toEndWith("; HttpOnly; SameSite=Strict; Secure");
    } finally {
      await tls.stop();
    }
  });
});
