import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  createTestChannel(server.deps, "Marketing", { sender_email: "news@example.com", monthly_send_quota: 1000 });
});
afterAll(() => server.stop());

describe("happy", () => {
  test("whoami: Broadcast's shape plus key metadata, type top-level and nested, never the value", async () => {
    const token = createTestToken(server.deps, { name: "CRM sync", permissions: ["subscribers_read", "subscribers_write"], channels: ["marketing"] });
    const res = await server.request("GET", "/api/v1/whoami", { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      type: "channel_scoped",
      token_type: "channel_scoped",
      token: { label: "CRM sync", name: "CRM sync", type: "channel_scoped", scope: "channels", channels: ["marketing"], allowed_ips: [], expires_at: null },
      channel: { name: "Marketing", slug: "marketing" },
    });
    expect(res.body.token.redacted_value).toMatch(/^mr_[0-9A-Za-z]{2}•{8}[0-9A-Za-z]{4}$/);
    expect(Object.keys(res.body.token.permissions)).toHaveLength(26);
    expect(res.body.token.permissions).toMatchObject({ subscribers_read: true, subscribers_write: true, broadcasts_read: false });
    expect(res.body.rate_limits.general).toMatchObject({ limit: 120, window_seconds: 60 });
    expect(res.body.rate_limits.send).toMatchObject({ limit: 600, remaining: 600 });
    expect(res.text).not.toContain(token);
  });

  test("whoami of a scope-all token: admin_cross_channel, channel null", async () => {
    const res = await server.request("GET", "/api/v1/whoami");
    expect(res.body.type).toBe("admin_cross_channel");
    expect(res.body.channel).toBeNull();
  });

  test("status of one channel: readiness, delivery, audience, quota", async () => {
    const token = createTestToken(server.deps, { preset: "transactional", channels: ["marketing"] });
    await server.request("POST", "/api/v1/subscribers", { body: { channel: "marketing", email: "a@example.com" } });
    await server.request("POST", "/api/v1/subscribers", { body: { channel: "marketing", email: "b@example.com" } });
    await server.request("POST", "/api/v1/subscribers/unsubscribe", { body: { channel: "marketing", email: "b@example.com" } });
    const res = await server.request("GET", "/api/v1/status", { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      channel: { slug: "marketing", sender_email: "news@example.com" },
      subscribers: { total: 2, active: 1 },
      readiness: { broadcasts: true, sequences: true, transactionals: true },
      delivery: { broadcasts: "capture", sequences: "capture", transactionals: "capture" },
      issues: [],
      quota: { monthly_send_quota: 1000, used: 0, remaining: 1000 },
    });
    expect(res.body.quota.resets_at).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);
  });

  test("status shows servers that cannot send as issues", async () => {
    const c = createTestChannel(server.deps, "Ops", { sender_email: null });
    const created = await server.request("POST", "/api/v1/email_servers", {
      body: { channel: "ops", email_server: { label: "relay", smtp_address: "127.0.0.1", smtp_port: 1, active: false, use_for_broadcasts: false, use_for_sequences: false } },
    });
    expect(created.status).toBe(201);
    const res = await server.request("GET", "/api/v1/status?channel=ops");
    expect(res.body.channel.slug).toBe(c.slug);
    expect(res.body.delivery).toEqual({ broadcasts: "capture", sequences: "capture", transactionals: "servers" });
    expect(res.body.readiness).toEqual({ broadcasts: false, sequences: false, transactionals: false });
    expect(res.body.issues.map((i: { code: string }) => i.code)).toEqual(["sender_email_missing", "no_active_server"]);
  });

  test("status over several channels lists them", async () => {
    const res = await server.request("GET", "/api/v1/status");
    expect(res.body.channel).toBeNull();
    expect(res.body.channels.map((c: { slug: string }) => c.slug)).toContain("default");
  });

  test("prime lists only what this token can reach", async () => {
    const token = createTestToken(server.deps, { preset: "transactional" });
    const res = await server.request("GET", "/api/v1/prime", { token });
    expect(res.body).toMatchObject({ platform: "mailroom", api_version: "v1", permissions: ["transactionals_read", "transactionals_write"] });
    expect(res.body.idempotency).toEqual({ header: "Idempotency-Key", routes: ["POST /api/v1/transactionals"] });
    const paths = res.body.endpoints.map((e: { method: string; path: string }) => `${e.method} ${e.path}`);
    expect(paths).toContain("POST /api/v1/transactionals");
    expect(paths).toContain("GET /api/v1/whoami");
    expect(paths).not.toContain("GET /api/v1/subscribers");
    // Each endpoint carries the one-line summary its route contract declares.
    expect(res.body.endpoints).toContainEqual({ method: "POST", path: "/api/v1/transactionals", permission: "transactionals_write", summary: "Send a transactional email" });
    expect(res.body.channels[0]).toMatchObject({ slug: "default", readiness: { transactionals: true } });
  });

  test("skill is Markdown with front matter, as text/plain with a charset", async () => {
    const token = createTestToken(server.deps, { preset: "transactional" });
    const res = await server.request("GET", "/api/v1/skill", { token });
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.text).toStartWith("---\nname: mailroom\n");
    expect(res.text).toContain("- `POST /api/v1/transactionals` — Send a transactional email (transactionals_write)");
    expect(res.text).toContain("/api/v1/openapi.json");
    expect(res.text).not.toContain("/api/v1/subscribers`");
    expect(res.text).toContain("Idempotency-Key");
    expect(res.text).not.toContain(token);
  });
});

describe("errors", () => {
  test("a channel-scoped token with no channel left still authenticates but cannot target channels", async () => {
    const doomed = createTestChannel(server.deps, "Doomed");
    const token = createTestToken(server.deps, { preset: "all", channels: [doomed.slug] });
    expect((await server.request("DELETE", `/api/v1/channels/${doomed.slug}`, { body: { confirm: doomed.slug } })).status).toBe(200);
    expect((await server.request("GET", "/api/v1/whoami", { token })).status).toBe(200);
    const send = await server.request("POST", "/api/v1/subscribers", { token, body: { email: "x@example.com" } });
    expect(send.status).toBe(403);
    expect(send.body.message).toBe("Token is not scoped to any channel");
    for (const list of ["/api/v1/channels", "/api/v1/subscribers", "/api/v1/transactionals", "/api/v1/email_servers", "/api/v1/templates"]) {
      const res = await server.request("GET", list, { token });
      expect({ list, status: res.status, message: res.body.message }).toEqual({ list, status: 403, message: "Token is not scoped to any channel" });
    }
  });
});
