import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0" } });
  createTestChannel(server.deps, "Marketing");
  createTestChannel(server.deps, "Billing");
});
afterAll(() => server.stop());

const whoami = (token: string) => server.request("GET", "/api/v1/whoami", { token });

describe("happy", () => {
  test("create returns the value once, then only the redacted value", async () => {
    const res = await server.request("POST", "/api/v1/access_tokens", {
      body: { access_token: { name: "CRM sync", permissions: ["subscribers_read", "contacts:write"], channels: ["marketing"] } },
    });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^mr_[0-9A-Za-z]{38}$/);
    expect(res.body).toMatchObject({
      name: "CRM sync",
      label: "CRM sync",
      type: "channel_scoped",
      scope: "channels",
      channels: ["marketing"],
      allowed_ips: [],
      expires_at: null,
      rate_limits: { general_per_minute: null, send_per_minute: null },
      effective_rate_limits: { general_per_minute: 0, send_per_minute: 600 },
      created_by: { type: "token" },
    });
    expect(res.body.redacted_value).toBe(`mr_${res.body.token.slice(3, 5)}••••••••${res.body.token.slice(-4)}`);
    expect(res.body.permissions.subscribers_write).toBe(true);
    expect(res.body.permissions.subscribers_read).toBe(true);
    expect(res.body.permissions.broadcasts_read).toBe(false);
    expect(Object.keys(res.body.permissions)).toHaveLength(26);

    const shown = await server.request("GET", `/api/v1/access_tokens/${res.body.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.token).toBeUndefined();
    expect(shown.text).not.toContain(res.body.token);
    expect((await whoami(res.body.token)).status).toBe(200);
  });

  test("presets, alias input, object edits; output is canonical", async () => {
    const created = await server.request("POST", "/api/v1/access_tokens", { body: { name: "ro", preset: "read_only", channels: ["default"] } });
    const perms = created.body.permissions;
    expect(Object.entries(perms).filter(([, on]) => on).map(([p]) => p)).toHaveLength(14);
    const patched = await server.request("PATCH", `/api/v1/access_tokens/${created.body.id}`, {
      body: { permissions: { "transactional:send": true, broadcasts_read: false } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.permissions.transactionals_write).toBe(true);
    expect(patched.body.permissions.broadcasts_read).toBe(false);
    expect(patched.body.permissions.subscribers_read).toBe(true);
  });

  test("an edit takes effect on the very next request", async () => {
    const token = createTestToken(server.deps, { name: "editable", preset: "transactional" });
    const id = (await whoami(token)).body.token.id;
    expect((await server.request("GET", "/api/v1/channels", { token })).status).toBe(403);
    await server.request("PATCH", `/api/v1/access_tokens/${id}`, { body: { permissions: ["channels_read"] } });
    expect((await server.request("GET", "/api/v1/channels", { token })).status).toBe(200);
    await server.request("PATCH", `/api/v1/access_tokens/${id}`, { body: { allowed_ips: ["203.0.113.0/24"] } });
    const blocked = await server.request("GET", "/api/v1/channels", { token });
    expect(blocked.status).toBe(403);
    expect(blocked.body.message).toBe("Request IP 127.0.0.1 is not allowed for this token");
  });

  test("PATCH null clears: allowed_ips back to any IP, rate_limits back to the instance defaults", async () => {
    const created = await server.request("POST", "/api/v1/access_tokens", {
      body: { name: "clearable", preset: "transactional", channels: ["default"], allowed_ips: ["203.0.113.0/24"], rate_limits: { general_per_minute: 5, send_per_minute: 7 } },
    });
    expect(created.status).toBe(201);
    expect((await whoami(created.body.token)).status).toBe(403);
    const cleared = await server.request("PATCH", `/api/v1/access_tokens/${created.body.id}`, { body: { allowed_ips: null, rate_limits: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.allowed_ips).toEqual([]);
    expect(cleared.body.rate_limits).toEqual({ general_per_minute: null, send_per_minute: null });
    expect(cleared.body.effective_rate_limits).toEqual({ general_per_minute: server.deps.config.rateLimitGeneral, send_per_minute: server.deps.config.rateLimitSend });
    expect((await whoami(created.body.token)).status).toBe(200);
  });

  test("refresh without grace: old value dies at once, new value works", async () => {
    const token = createTestToken(server.deps, { name: "rotating", preset: "transactional" });
    const id = (await whoami(token)).body.token.id;
    const res = await server.request("POST", `/api/v1/access_tokens/${id}/refresh`);
    expect(res.status).toBe(200);
    expect(res.body.token).toMatch(/^mr_/);
    expect(res.body.previous_value_expires_at).toBeNull();
    expect((await whoami(token)).status).toBe(401);
    expect((await whoami(res.body.token)).status).toBe(200);
  });

  test("refresh with grace: old value works until previous_value_expires_at and says so; a second refresh ends it", async () => {
    const token = createTestToken(server.deps, { name: "graceful", preset: "transactional" });
    const id = (await whoami(token)).body.token.id;
    const first = await server.request("POST", `/api/v1/access_tokens/${id}/refresh`, { body: { grace_period_seconds: 3600 } });
    expect(first.body.previous_value_expires_at).not.toBeNull();
    const old = await whoami(token);
    expect(old.status).toBe(200);
    expect(old.headers.get("mailroom-token-rotated")).toBe(first.body.previous_value_expires_at);
    const second = await server.request("POST", `/api/v1/access_tokens/${id}/refresh`, { body: { grace_period_seconds: 60 } });
    expect((await whoami(token)).status).toBe(401);
    expect((await whoami(first.body.token)).status).toBe(200);
    expect((await whoami(second.body.token)).status).toBe(200);
  });

  test("delete is immediate, grace value included", async () => {
    const token = createTestToken(server.deps, { name: "doomed", preset: "transactional" });
    const id = (await whoami(token)).body.token.id;
    const refreshed = await server.request("POST", `/api/v1/access_tokens/${id}/refresh`, { body: { grace_period_seconds: 600 } });
    const res = await server.request("DELETE", `/api/v1/access_tokens/${id}`);
    expect(res.body).toEqual({ message: "Access token deleted successfully", id });
    expect((await whoami(token)).status).toBe(401);
    expect((await whoami(refreshed.body.token)).status).toBe(401);
    expect((await server.request("GET", `/api/v1/access_tokens/${id}`)).status).toBe(404);
  });

  test("a token may refresh and delete itself", async () => {
    const token = createTestToken(server.deps, { name: "self", permissions: ["access_tokens_write"] });
    const id = (await whoami(token)).body.token.id;
    const refreshed = await server.request("POST", `/api/v1/access_tokens/${id}/refresh`, { token });
    expect(refreshed.status).toBe(200);
    const deleted = await server.request("DELETE", `/api/v1/access_tokens/${id}`, { token: refreshed.body.token });
    expect(deleted.status).toBe(200);
  });

  test("every change is in the audit log, without secrets", async () => {
    const created = await server.request("POST", "/api/v1/access_tokens", { body: { name: "audited", preset: "none", channels: ["default"] } });
    await server.request("POST", `/api/v1/access_tokens/${created.body.id}/refresh`);
    await server.request("DELETE", `/api/v1/access_tokens/${created.body.id}`);
    const log = await server.request("GET", `/api/v1/audit_log?target_type=access_token&target_id=${created.body.id}`);
    expect(log.status).toBe(200);
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(["access_token.created", "access_token.refreshed", "access_token.deleted"]);
    expect(log.body.data[1].changes.token).toEqual(["[redacted]", "[redacted]"]);
    expect(log.body.data[0].actor).toMatchObject({ type: "token" });
    // Recorded in the API's own terms: channel slugs, ISO times.
    expect(log.body.data[0].changes.channels).toEqual([null, ["default"]]);
    const edited = await server.request("POST", "/api/v1/access_tokens", { body: { name: "audited 2", preset: "none", channels: ["default"] } });
    await server.request("PATCH", `/api/v1/access_tokens/${edited.body.id}`, { body: { channels: ["marketing"], expires_at: "2030-01-01T00:00:00Z" } });
    const update = (await server.request("GET", `/api/v1/audit_log?action=access_token.updated&target_id=${edited.body.id}`)).body.data[0];
    expect(update.changes.channels).toEqual([["default"], ["marketing"]]);
    expect(update.changes.expires_at).toEqual([null, "2030-01-01T00:00:00.000Z"]);
    expect(log.text).not.toContain(created.body.token);
    // An unparseable time filter is ignored with a warning (§1.3), not refused.
    const lenient = await server.request("GET", `/api/v1/audit_log?created_after=garbage&target_id=${created.body.id}`);
    expect(lenient.status).toBe(200);
    expect(lenient.body.data).toHaveLength(3);
    expect(lenient.body.warnings).toEqual([{ code: "parameter_ignored", param: "created_after", message: "created_after is not a valid ISO-8601 time and was ignored" }]);
    const later = await server.request("GET", `/api/v1/audit_log?created_after=2999-01-01T00:00:00Z&target_id=${created.body.id}`);
    expect(later.body.data).toEqual([]);
  });

  test("list is paginated and shows only visible tokens to a channel-scoped caller", async () => {
    const scoped = createTestToken(server.deps, { name: "mk admin", preset: "all", channels: ["marketing"] });
    createTestToken(server.deps, { name: "mk child", preset: "transactional", channels: ["marketing"] });
    createTestToken(server.deps, { name: "billing child", preset: "transactional", channels: ["billing"] });
    const mine = await server.request("GET", "/api/v1/access_tokens?limit=500", { token: scoped });
    expect(mine.status).toBe(200);
    expect(mine.body.limit).toBe(250);
    expect(mine.body.warnings[0].code).toBe("value_adjusted");
    const names = mine.body.data.map((t: { name: string }) => t.name);
    expect(names).toContain("mk child");
    expect(names).not.toContain("billing child");
    expect(names).not.toContain("test admin");
    expect(mine.body.total).toBe(mine.body.data.length);
    const billingId = (await server.request("GET", "/api/v1/access_tokens?limit=250")).body.data.find((t: { name: string }) => t.name === "billing child").id;
    expect((await server.request("GET", `/api/v1/access_tokens/${billingId}`, { token: scoped })).status).toBe(404);
    expect((await server.request("DELETE", `/api/v1/access_tokens/${billingId}`, { token: scoped })).status).toBe(404);
  });
});

describe("errors", () => {
  test.each([
    { name: "missing name", body: { preset: "all", channels: ["default"] }, field: "name", message: "can't be blank" },
    { name: "name too long", body: { name: "x".repeat(101), preset: "none", channels: ["default"] }, field: "name", message: "is too long (maximum is 100 characters)" },
    { name: "unknown permission", body: { name: "a", permissions: ["foo"], channels: ["default"] }, field: "permissions", message: "unknown permission: foo" },
    { name: "no permissions", body: { name: "a", channels: ["default"] }, field: "permissions", message: "can't be blank" },
    { name: "scope-all caller omits channels", body: { name: "a", preset: "none" }, field: "channels", message: "can't be blank" },
    { name: "unknown channel", body: { name: "a", preset: "none", channels: ["nope"] }, field: "channels", message: "unknown channel: nope" },
    { name: "bad CIDR", body: { name: "a", preset: "none", channels: ["default"], allowed_ips: ["10.0.0.0/33"] }, field: "allowed_ips", message: "contains an invalid IP or CIDR: 10.0.0.0/33" },
    { name: "IPv4-mapped range shorter than /96", body: { name: "a", preset: "none", channels: ["default"], allowed_ips: ["::ffff:0:0/80"] }, field: "allowed_ips", message: "contains an invalid IP or CIDR: ::ffff:0:0/80" },
    { name: "past expiry", body: { name: "a", preset: "none", channels: ["default"], expires_at: "2001-01-01T00:00:00Z" }, field: "expires_at", message: "must be in the future" },
    { name: "rate limit out of range", body: { name: "a", preset: "none", channels: ["default"], rate_limits: { send_per_minute: 0 } }, field: "rate_limits", message: "send_per_minute must be an integer between 1 and 100000, or null" },
    { name: "bad scope", body: { name: "a", preset: "none", scope: "everything" }, field: "scope", message: "is not included in the list" },
  ])("$name → 422 on $field", async ({ body, field, message }) => {
    const res = await server.request("POST", "/api/v1/access_tokens", { body });
    expect(res.status).toBe(422);
    expect(res.body.errors[field]).toEqual([message]);
    expect(typeof res.body.error).toBe("string");
  });

  test("expires_at may be at most ten calendar years ahead", async () => {
    const inYears = (years: number, days = 0) => {
      const d = new Date();
      d.setUTCFullYear(d.getUTCFullYear() + years);
      return new Date(d.getTime() + days * 86_400_000).toISOString();
    };
    const body = (expires_at: string) => ({ body: { name: "long lived", preset: "none", channels: ["default"], expires_at } });
    expect((await server.request("POST", "/api/v1/access_tokens", body(inYears(10, -1)))).status).toBe(201);
    const tooLong = await server.request("POST", "/api/v1/access_tokens", body(inYears(10, 3)));
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.errors).toEqual({ expires_at: ["must be at most 10 years ahead"] });
  });

  test("unknown permission message follows the contract", async () => {
    const res = await server.request("POST", "/api/v1/access_tokens", { body: { name: "a", permissions: ["foo"], channels: ["default"] } });
    expect(res.body.error).toBe("Permissions unknown permission: foo");
  });

  test("grace period out of range → 422; non-numeric id → 404", async () => {
    const res = await server.request("POST", "/api/v1/access_tokens/1/refresh", { body: { grace_period_seconds: 86401 } });
    expect(res.status).toBe(422);
    expect((await server.request("GET", "/api/v1/access_tokens/abc")).status).toBe(404);
    expect((await server.request("GET", "/api/v1/access_tokens/999999")).body).toEqual({ error: "Access token not found" });
  });
});

describe("input edge cases", () => {
  const create = (body: Record<string, unknown>) => server.request("POST", "/api/v1/access_tokens", { body: { name: "edge", channels: ["default"], ...body } });

  test("a padded permission name in the object form is applied like in the array form", async () => {
    const created = await create({ permissions: { " subscribers_read ": true, access_tokens_write: true } });
    expect(created.status).toBe(201);
    expect(created.body.permissions).toMatchObject({ subscribers_read: true, access_tokens_write: true });
    const revoked = await server.request("PATCH", `/api/v1/access_tokens/${created.body.id}`, { body: { permissions: { " access_tokens_write": false } } });
    expect(revoked.status).toBe(200);
    expect(revoked.body.permissions.access_tokens_write).toBe(false);
    expect(server.sql("SELECT permissions FROM access_tokens WHERE id = ?", created.body.id)[0].permissions).not.toContain("access_tokens_write");
  });

  test.each(["010.0.0.1", "0x7f.0.0.1", "127.1", "2130706433", "192.168.001.0/24", "1.2.3.256"])(
    "allowed_ips %p is not a plain dotted-quad address → 422, never another host",
    async (ip) => {
      const res = await create({ permissions: ["subscribers_read"], allowed_ips: [ip] });
      expect(res.status).toBe(422);
      expect(Object.keys(res.body.errors)).toEqual(["allowed_ips"]);
    },
  );

  test("plain addresses and ranges still work, IPv6 included", async () => {
    const res = await create({ permissions: ["subscribers_read"], allowed_ips: ["10.0.0.1", "192.168.0.0/24", "0.0.0.0/0", "2001:db8::/32", "::ffff:10.1.2.3"] });
    expect(res.status).toBe(201);
    expect(res.body.allowed_ips).toEqual(["10.0.0.1/32", "192.168.0.0/24", "0.0.0.0/0", "2001:db8::/32", "10.1.2.3/32"]);
  });

  test.each(["2030-02-30", "2030-04-31T10:00:00Z", "2031-02-29T00:00:00+02:00", "2030-00-10"])("expires_at %p does not exist → 422, not rolled over", async (when) => {
    const res = await create({ permissions: ["subscribers_read"], expires_at: when });
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.errors)).toEqual(["expires_at"]);
  });

  test("a real leap day is accepted", async () => {
    const res = await create({ permissions: ["subscribers_read"], expires_at: "2032-02-29T12:00:00Z" });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBe("2032-02-29T12:00:00.000Z");
  });

  test("refresh: the wrapped grace period wins (the top-level one is parameter_overridden), its error names the wrapped key, unknown keys are warned about", async () => {
    const { body: t } = await create({ permissions: ["subscribers_read"] });
    const refresh = (body: unknown) => server.request("POST", `/api/v1/access_tokens/${t.id}/refresh`, { body });
    const wrapped = await refresh({ grace_period_seconds: 0, access_token: { grace_period_seconds: 60 }, foo: 1 });
    expect(wrapped.status).toBe(200);
    expect(wrapped.body.warnings).toEqual([
      {
        code: "parameter_overridden",
        param: "grace_period_seconds",
        message: "grace_period_seconds was also given as access_token.grace_period_seconds; access_token.grace_period_seconds was used",
      },
      { code: "unrecognized_parameter", param: "foo", message: "foo is not a parameter of this route" },
    ]);
    expect(server.sql("SELECT previous_token_hash IS NOT NULL AS grace FROM access_tokens WHERE id = ?", t.id)[0].grace).toBe(1);
    const bad = await refresh({ access_token: { grace_period_seconds: "soon" } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual({ "access_token.grace_period_seconds": ["must be an integer"] });
  });
});

describe("permissions", () => {
  // No escalation (§2.5): every axis.
  const caller = () =>
    createTestToken(server.deps, {
      name: "limited caller",
      permissions: ["access_tokens_read", "access_tokens_write", "subscribers_read"],
      channels: ["marketing"],
      allowed_ips: ["127.0.0.0/8"],
      expires_at: Date.now() + 24 * 3600_000,
      rate_limits: { general_per_minute: 100, send_per_minute: 10 },
    });
  const inDay = new Date(Date.now() + 3600_000).toISOString();
  const ok = { name: "child", permissions: ["subscribers_read"], channels: ["marketing"], allowed_ips: ["127.0.0.1"], expires_at: inDay };

  test("a child within every axis is allowed; omitted rate limits are capped to the caller's", async () => {
    const res = await server.request("POST", "/api/v1/access_tokens", { token: caller(), body: ok });
    expect(res.status).toBe(201);
    expect(res.body.rate_limits).toEqual({ general_per_minute: 100, send_per_minute: 10 });
    expect(res.body.warnings.map((w: { param: string }) => w.param)).toEqual(["rate_limits.general_per_minute", "rate_limits.send_per_minute"]);
    expect(res.body.created_by.type).toBe("token");
  });

  test.each([
    { axis: "permission", body: { ...ok, permissions: ["subscribers_read", "broadcasts_write"] }, message: "permission broadcasts_write" },
    { axis: "scope", body: { ...ok, scope: "all" }, message: "scope all" },
    { axis: "channels", body: { ...ok, channels: ["marketing", "billing"] }, message: "channel billing" },
    { axis: "channels (unknown: no existence oracle)", body: { ...ok, channels: ["marketing", "nope"] }, message: "channel nope" },
    { axis: "rate limits", body: { ...ok, rate_limits: { send_per_minute: 11 } }, message: "rate_limits send_per_minute 11" },
    { axis: "allowed_ips (none)", body: { ...ok, allowed_ips: [] }, message: "allowed_ips any" },
    { axis: "allowed_ips (wider)", body: { ...ok, allowed_ips: ["10.0.0.0/8"] }, message: "allowed_ips 10.0.0.0/8" },
    { axis: "expires_at (never)", body: { ...ok, expires_at: null }, message: "expires_at never" },
    { axis: "expires_at (later)", body: { ...ok, expires_at: new Date(Date.now() + 48 * 3600_000).toISOString() }, message: "expires_at" },
  ])("create beyond the caller on $axis → 403", async ({ body, message }) => {
    const res = await server.request("POST", "/api/v1/access_tokens", { token: caller(), body });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("Forbidden");
    expect(res.body.message).toStartWith(`Cannot grant beyond this token's own access: ${message}`);
  });

  test("PATCH cannot raise a child beyond the caller, nor touch a stronger token", async () => {
    const token = caller();
    const child = await server.request("POST", "/api/v1/access_tokens", { token, body: ok });
    const raise = await server.request("PATCH", `/api/v1/access_tokens/${child.body.id}`, { token, body: { permissions: { subscribers_write: true } } });
    expect(raise.status).toBe(403);
    expect(raise.body.message).toBe("Cannot grant beyond this token's own access: permission subscribers_write");
    const strong = createTestToken(server.deps, { name: "strong", preset: "all", channels: ["marketing"] });
    const strongId = (await whoami(strong)).body.token.id;
    for (const [method, path] of [
      ["PATCH", `/api/v1/access_tokens/${strongId}`],
      ["POST", `/api/v1/access_tokens/${strongId}/refresh`],
      ["DELETE", `/api/v1/access_tokens/${strongId}`],
    ]) {
      const res = await server.request(method, path, { token, body: { name: "renamed" } });
      expect(res.status).toBe(403);
    }
    expect((await whoami(strong)).status).toBe(200);
  });

  test("a channel-scoped caller's new token defaults to the caller's channels", async () => {
    const res = await server.request("POST", "/api/v1/access_tokens", { token: caller(), body: { ...ok, channels: undefined } });
    expect(res.status).toBe(201);
    expect(res.body.channels).toEqual(["marketing"]);
  });

  test("…and to the caller's target set T when a selector narrows it (§2.4)", async () => {
    const token = createTestToken(server.deps, { preset: "all", channels: ["marketing", "billing"] });
    const res = await server.request("POST", "/api/v1/access_tokens?channel=billing", { token, body: { name: "narrowed", preset: "read_only" } });
    expect(res.status).toBe(201);
    expect(res.body.channels).toEqual(["billing"]);
  });

  test("a token whose channels were all deleted mints nothing and is seen only by scope-all callers", async () => {
    createTestChannel(server.deps, "Doomed");
    const orphan = createTestToken(server.deps, { name: "orphan", preset: "all", channels: ["doomed"] });
    const id = (await server.request("GET", "/api/v1/whoami", { token: orphan })).body.token.id;
    expect((await server.request("DELETE", "/api/v1/channels/doomed", { body: { confirm: "doomed" } })).status).toBe(200);
    const minted = await server.request("POST", "/api/v1/access_tokens", { token: orphan, body: { name: "orphan child", preset: "all" } });
    expect(minted.status).toBe(422);
    expect(minted.body.errors).toEqual({ channels: ["can't be blank"] });
    expect(server.sql("SELECT count(*) AS n FROM access_tokens WHERE name = 'orphan child'")[0].n).toBe(0);
    // Another tenant's manager: no sight of it (an empty channel set is inside nobody's).
    const manager = createTestToken(server.deps, { preset: "all", channels: ["default"] });
    const listed = await server.request("GET", "/api/v1/access_tokens?per_page=100", { token: manager });
    expect(listed.body.data.map((t: { name: string }) => t.name)).not.toContain("orphan");
    expect((await server.request("GET", `/api/v1/access_tokens/${id}`, { token: manager })).status).toBe(404);
    expect((await server.request("PATCH", `/api/v1/access_tokens/${id}`, { token: manager, body: { channels: ["default"] } })).status).toBe(404);
    // Scope all sees it and can give it channels again.
    expect((await server.request("GET", `/api/v1/access_tokens/${id}`)).status).toBe(200);
    const rehomed = await server.request("PATCH", `/api/v1/access_tokens/${id}`, { body: { channels: ["default"] } });
    expect(rehomed.status).toBe(200);
    expect(rehomed.body.channels).toEqual(["default"]);
  });
});
