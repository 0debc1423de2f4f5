/**
 * Dashboard login lockout with device cookies (OWASP's pattern) over real HTTP: failures from
 * anywhere lock a login out for unknown browsers only; a browser holding a genuine device cookie
 * for that login still signs in, and is locked out by its own failures alone. Client IPs vary via
 * X-Forwarded-For from the trusted loopback proxy.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { fakeClock, startTestServer, type TestServer } from "../harness";

const PASSWORD = "test-admin-password";
const WRONG = "wrong-password-123";
const FIFTEEN_MINUTES = 15 * 60 * 1000;
const clock = fakeClock();
let server: TestServer;
let adminSession: string;
let ipCounter = 0;
let userCounter = 0;

/** Every attempt from a new client IP, clear of the per-IP limit unless `ip` is given. */
async function attempt(login: string, password: string, o: { device?: string; ip?: string } = {}) {
  const headers: Record<string, string> = {
    origin: server.url,
    "content-type": "application/json",
    "x-forwarded-for": o.ip ?? `10.7.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`,
  };
  if (o.device) headers.cookie = `mailroom_device=${o.device}`;
  const res = await fetch(`${server.url}/admin/api/login`, { method: "POST", headers, body: JSON.stringify({ email: login, password }) });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), cookies: res.headers.getSetCookie(), body: await res.json() };
}

const cookieValue = (cookies: string[], name: string) => cookies.find((c) => c.startsWith(`${name}=`))!.split(";")[0].slice(name.length + 1);

/** Signs in as `login` and returns the device cookie's value. */
async function deviceCookieFor(login: string) {
  const res = await attempt(login, PASSWORD);
  expect(res.status).toBe(200);
  return cookieValue(res.cookies, "mailroom_device");
}

/** A fresh admin user per test, so one test's lockout never leaks into another. */
async function newAdmin() {
  const email = `ops${++userCounter}@example.com`;
  const res = await fetch(`${server.url}/admin/api/users`, {
    method: "POST",
    headers: { origin: server.url, "content-type": "application/json", cookie: adminSession },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(201);
  return email;
}

/** Five failures from five IPs and no device cookie: the login is locked out for unknown browsers. */
async function lockOut(login: string) {
  for (let i = 0; i < 5; i++) expect((await attempt(login, WRONG)).status).toBe(401);
  const blocked = await attempt(login, PASSWORD);
  expect(blocked.status).toBe(429);
  expect(blocked.retryAfter).toBe("180");
}

const sessionKey = () => Buffer.from(server.sql("SELECT value FROM settings WHERE key = 'session_secret'")[0].value, "base64url");

beforeAll(async () => {
  server = await startTestServer({ dashboard: true, clock, env: { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } });
  adminSession = `mailroom_auth=${cookieValue((await attempt("admin", PASSWORD)).cookies, "mailroom_auth")}`;
});
afterAll(() => server.stop());

describe("device cookie", () => {
  test("a login sets a year-long HttpOnly SameSite=Strict device cookie sent only to the login route", async () => {
    const res = await attempt("admin", PASSWORD);
    expect(res.cookies).toHaveLength(2);
    expect(res.cookies[1]).toMatch(/^mailroom_device=[\w-]+\.[\w-]+\.[\w-]+; Path=\/admin\/api\/login; Max-Age=31536000; HttpOnly; SameSite=Strict$/);
    // It names the login, never the password.
    const claims = JSON.parse(Buffer.from(cookieValue(res.cookies, "mailroom_device").split(".")[1], "base64url").toString());
    expect(claims).toMatchObject({ iss: "mailroom", aud: "mailroom-device", sub: "admin" });
    expect(JSON.stringify(claims)).not.toContain(PASSWORD);
  });

  test("failures from five IPs lock out unknown browsers, but the browser that signed in before still gets in", async () => {
    const login = await newAdmin();
    const device = await deviceCookieFor(login);
    await lockOut(login);
    const known = await attempt(login, PASSWORD, { device });
    expect(known.status).toBe(200);
    expect(known.body).toEqual({ user: { id: expect.any(Number), email: login } });
    expect(cookieValue(known.cookies, "mailroom_auth")).toBeTruthy();
    // Still throttled for everyone else; every attempt is audited as before.
    expect((await attempt(login, PASSWORD)).status).toBe(429);
    const audit = server.sql("SELECT action, count(*) AS n FROM audit_log WHERE actor_label = ? AND action LIKE 'admin.login%' GROUP BY action ORDER BY action", login);
    expect(audit).toEqual([
      { action: "admin.login", n: 2 },
      { action: "admin.login_failed", n: 5 },
    ]);
  });

  test("a forged, tampered, expired, other login's or session cookie gives no exemption", async () => {
    const login = await newAdmin();
    const other = await deviceCookieFor(await newAdmin());
    const genuine = await deviceCookieFor(login);
    await lockOut(login);
    const sign = (claims: { sub?: string; aud?: string; exp?: number }, key: Uint8Array = sessionKey()) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("mailroom")
        .setAudience(claims.aud ?? "mailroom-device")
        .setSubject(claims.sub ?? login)
        .setJti("forged")
        .setExpirationTime(claims.exp ?? Math.floor(clock.now() / 1000) + 3600)
        .sign(key);
    const [head, payload, signature] = genuine.split(".");
    const [otherHead, otherPayload, otherSignature] = other.split(".");
    const renamed = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(otherPayload, "base64url").toString()), sub: login })).toString("base64url");
    const refused = {
      "another login's": other,
      "a bad signature": `${head}.${payload}.${signature.slice(0, -2)}AA`,
      "another login's, renamed": `${otherHead}.${renamed}.${otherSignature}`,
      "another key": await sign({}, new Uint8Array(32)),
      "a session JWT": adminSession.split("=")[1],
      "the wrong audience": await sign({ aud: "mailroom" }),
      "an expired one": await sign({ exp: Math.floor(clock.now() / 1000) - 1 }),
      garbage: "not-a-jwt",
    };
    for (const [what, device] of Object.entries(refused)) {
      const res = await attempt(login, PASSWORD, { device });
      if (res.status !== 429) throw new Error(`${what} → ${res.status}`);
    }
    // The same claims signed with the instance key pass: the checks above are about the cookie, not the login.
    expect((await attempt(login, PASSWORD, { device: await sign({}) })).status).toBe(200);
  });

  test("five failures with a device cookie lock that cookie out, and only that cookie", async () => {
    const login = await newAdmin();
    const device = await deviceCookieFor(login);
    const otherDevice = await deviceCookieFor(login);
    for (let i = 0; i < 5; i++) expect((await attempt(login, WRONG, { device })).status).toBe(401);
    const locked = await attempt(login, PASSWORD, { device });
    expect(locked.status).toBe(429);
    expect(locked.retryAfter).toBe("180");
    // Its failures are not charged to the login: other browsers, known or not, still sign in.
    expect((await attempt(login, PASSWORD, { device: otherDevice })).status).toBe(200);
    expect((await attempt(login, PASSWORD)).status).toBe(200);
    expect(server.sql("SELECT count(*) AS n FROM audit_log WHERE actor_label = ? AND action = 'admin.login_failed'", login)[0].n).toBe(5);
    clock.advance(FIFTEEN_MINUTES);
    expect((await attempt(login, PASSWORD, { device })).status).toBe(200);
  });

  test("the per-IP limit (10 attempts a minute) applies to a known browser too", async () => {
    const login = await newAdmin();
    const device = await deviceCookieFor(login);
    const ip = "192.0.2.99";
    for (let i = 0; i < 10; i++) expect((await attempt(login, i < 4 ? WRONG : PASSWORD, { device, ip })).status).toBe(i < 4 ? 401 : 200);
    const res = await attempt(login, PASSWORD, { device, ip });
    expect(res.status).toBe(429);
    expect(res.retryAfter).toBeTruthy();
  });
});
