import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => (server = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0" } })));
afterAll(() => server.stop());

describe("happy", () => {
  test("create (wrapped), slug from the name, read by id and by slug, list", async () => {
    const res = await server.request("POST", "/api/v1/channels", { body: { channel: { name: "Marketing Team!", sender_email: "news@example.com", timezone: "Europe/Paris" } } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "Marketing Team!", slug: "marketing-team", sender_email: "news@example.com", timezone: "Europe/Paris", monthly_send_quota: null, default: false });
    expect((await server.request("GET", `/api/v1/channels/${res.body.id}`)).body.slug).toBe("marketing-team");
    expect((await server.request("GET", "/api/v1/channels/marketing-team.json")).body.id).toBe(res.body.id);
    const list = await server.request("GET", "/api/v1/channels");
    expect(list.body.data.map((c: { slug: string }) => c.slug)).toEqual(["default", "marketing-team"]);
    expect(list.body).toMatchObject({ total: 2, limit: 100, offset: 0 });
  });

  test("all-digit names get a c- slug; taken slugs get a suffix", async () => {
    expect((await server.request("POST", "/api/v1/channels", { body: { name: "2026" } })).body.slug).toBe("c-2026");
    expect((await server.request("POST", "/api/v1/channels", { body: { name: "Default" } })).body.slug).toBe("default-2");
  });

  test("PATCH updates fields; the slug is immutable (parameter_ignored)", async () => {
    const res = await server.request("PATCH", "/api/v1/channels/default", { body: { channel: { sender_name: "Shop", monthly_send_quota: 50, slug: "other" } } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ slug: "default", sender_name: "Shop", monthly_send_quota: 50 });
    expect(res.body.warnings).toEqual([{ code: "parameter_ignored", param: "channel.slug", message: "channel.slug is immutable and was ignored" }]);
    // Whatever the value: an invalid slug is ignored the same way, not refused.
    const invalid = await server.request("PATCH", "/api/v1/channels/default", { body: { slug: "Not A Slug!" } });
    expect(invalid.status).toBe(200);
    expect(invalid.body.slug).toBe("default");
    expect(invalid.body.warnings).toEqual([{ code: "parameter_ignored", param: "slug", message: "slug is immutable and was ignored" }]);
    expect((await server.request("PATCH", "/api/v1/channels/default", { body: { monthly_send_quota: null } })).body.monthly_send_quota).toBeNull();
    // null clears: the time zone goes back to its default.
    expect((await server.request("PATCH", "/api/v1/channels/default", { body: { timezone: "Asia/Tokyo" } })).body.timezone).toBe("Asia/Tokyo");
    const reset = await server.request("PATCH", "/api/v1/channels/default", { body: { timezone: null } });
    expect(reset.status).toBe(200);
    expect(reset.body.timezone).toBe("UTC");
  });

  test("delete needs the slug as confirmation, removes the channel's data and assignments, and is audited", async () => {
    const c = createTestChannel(server.deps, "Temporary");
    await server.request("POST", "/api/v1/subscribers", { body: { channel: c.slug, email: "gone@example.com" } });
    const wrong = await server.request("DELETE", `/api/v1/channels/${c.slug}`, { body: { confirm: "nope" } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors.confirm).toEqual([`must equal the channel slug (${c.slug})`]);
    const res = await server.request("DELETE", `/api/v1/channels/${c.id}`, { body: { confirm: c.slug } });
    expect(res.body).toEqual({ message: "Channel deleted successfully" });
    expect((await server.request("GET", `/api/v1/channels/${c.slug}`)).status).toBe(404);
    expect(server.sql("SELECT count(*) AS n FROM subscribers WHERE channel_id = ?", c.id)[0].n).toBe(0);
    const audit = await server.request("GET", `/api/v1/audit_log?target_type=channel&target_id=${c.id}`);
    expect(audit.body.data.map((r: { action: string }) => r.action)).toEqual(["channel.created", "channel.deleted"]);
  });
});

describe("errors", () => {
  test("a channel selector that is not a slug is a 422, never dropped (which would widen T to every channel)", async () => {
    const invalid = { error: "Channel is invalid", errors: { channel: ["must be a channel slug"] } };
    for (const [method, path, body] of [
      ["DELETE", "/api/v1/captured_messages?channel[]=nope", undefined],
      ["GET", "/api/v1/templates?channel[]=default&channel[]=nope", undefined],
      ["GET", "/api/v1/templates?channel[slug]=default", undefined],
      ["POST", "/api/v1/templates", { channel: 5, label: "x", subject: "s", body: "b" }],
    ] as const) {
      const res = await server.request(method, path, { body });
      expect({ path, status: res.status, body: res.body }).toEqual({ path, status: 422, body: invalid });
    }
    // On /channels an object-valued `channel` is the resource wrapper.
    const wrapped = await server.request("POST", "/api/v1/channels", { body: { channel: { name: "Wrapped Selector" } } });
    expect(wrapped.status).toBe(201);
  });

  test.each([
    { body: { sender_name: "x" }, field: "name", message: "can't be blank" },
    { body: { name: "x".repeat(101) }, field: "name", message: "is too long (maximum is 100 characters)" },
    { body: { name: "A", slug: "123" }, field: "slug", message: "is invalid" },
    { body: { name: "A", slug: "Upper" }, field: "slug", message: "is invalid" },
    { body: { name: "A", slug: "" }, field: "slug", message: "is invalid" },
    { body: { name: "A", slug: "  " }, field: "slug", message: "is invalid" },
    { body: { name: "A", slug: "default" }, field: "slug", message: "has already been taken" },
    { body: { name: "A", sender_email: "nope" }, field: "sender_email", message: "is invalid" },
    { body: { name: "A", timezone: "Mars/Olympus" }, field: "timezone", message: "is not a valid IANA time zone" },
    { body: { name: "A", monthly_send_quota: -1 }, field: "monthly_send_quota", message: "must be greater than or equal to 0" },
  ])("$field: $message", async ({ body, field, message }) => {
    const res = await server.request("POST", "/api/v1/channels", { body });
    expect(res.status).toBe(422);
    expect(res.body.errors[field]).toEqual([message]);
  });

  test("the last channel cannot be deleted", async () => {
    const s = await startTestServer();
    const res = await s.request("DELETE", "/api/v1/channels/default", { body: { confirm: "default" } });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe("Cannot delete the last channel");
    await s.stop();
  });
});

describe("permissions", () => {
  test("a channel-scoped token sees its channels only: 403 naming an outside channel, list limited", async () => {
    createTestChannel(server.deps, "Billing");
    const token = createTestToken(server.deps, { preset: "all", channels: ["default"] });
    expect((await server.request("GET", "/api/v1/channels", { token })).body.data.map((c: { slug: string }) => c.slug)).toEqual(["default"]);
    const outside = await server.request("GET", "/api/v1/channels/billing", { token });
    expect(outside.status).toBe(403);
    expect(outside.body.message).toBe("Token is not scoped to channel(s): billing");
    expect((await server.request("GET", "/api/v1/channels/no-such", { token })).status).toBe(403);
    // The one §1.6 channel lookup: a scope-`all` token naming an unknown channel, as for selectors.
    expect(await server.request("GET", "/api/v1/channels/no-such")).toMatchObject({ status: 404, body: { error: "Channel not found: no-such" } });
    const create = await server.request("POST", "/api/v1/channels", { token, body: { name: "Mine" } });
    expect(create.status).toBe(403);
    expect(create.body.message).toBe("This action requires a token with scope all");
  });
});
