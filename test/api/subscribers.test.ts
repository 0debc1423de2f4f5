import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fakeClock, startTestServer, type TestServer } from "../harness";
import { createTestChannel, createTestToken } from "../fixtures";
import { eventually } from "../smtp/helpers";

let server: TestServer;
const clock = fakeClock();
let seq = 0;
/** A fresh address per test, so tests never see each other's rows. */
const email = (name = "user") => `${name}${++seq}@example.com`;

beforeAll(async () => {
  server = await startTestServer({ clock, env: { MAILROOM_RATE_LIMIT_GENERAL: "0" } });
  createTestChannel(server.deps, "Marketing");
});
afterAll(() => server.stop());

/** Calls the API on the default channel unless the body/query names another. */
function api(method: string, path: string, body?: Record<string, unknown>, token?: string) {
  if (method === "GET") {
    const q = new URLSearchParams({ channel: "default", ...(body as Record<string, string>) });
    return server.request(method, `/api/v1${path}${path.includes("?") ? "&" : "?"}${q}`, { token });
  }
  return server.request(method, `/api/v1${path}`, { body: { channel: "default", ...body }, token });
}
const sql = (query: string, ...params: unknown[]) => server.sql(query, ...params);
const tagsOf = (id: number) => sql("SELECT tag FROM subscriber_tags WHERE subscriber_id = ? ORDER BY tag", id).map((r) => r.tag);
const eventsOf = (id: number) => sql("SELECT type, data FROM events WHERE subscriber_id = ? ORDER BY id", id).map((r) => ({ type: r.type, data: JSON.parse(r.data) }));
const count = () => (sql("SELECT count(*) AS n FROM subscribers")[0] as { n: number }).n;

describe("happy", () => {
  test("create stores a trimmed lower-cased email, sorted tags, events and the tag mirror", async () => {
    const address = email("Ada");
    const res = await api("POST", "/subscribers", {
      subscriber: { email: `  ${address.toUpperCase()} `, first_name: "Ada", tags: "vip, beta", custom_data: { plan: "pro" } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      channel: "default", email: address.toLowerCase(), first_name: "Ada", last_name: null, is_active: true, status: "active",
      source: "api_subscription", confirmation_status: "unconfirmed", tags: ["beta", "vip"], custom_data: { plan: "pro" }, unsubscribed_at: null,
    });
    expect(res.body.subscribed_at).toBe(new Date(clock.now()).toISOString());
    expect(tagsOf(res.body.id)).toEqual(["beta", "vip"]);
    const events = eventsOf(res.body.id);
    expect(events.map((e) => e.type)).toEqual(["subscriber.created", "subscriber.subscribed"]);
    expect(events[0].data).toEqual({ channel: "default", subscriber: res.body });
  });

  test("create on an existing email is an upsert: scalars overwrite, tags and custom_data merge, source/is_active kept", async () => {
    const address = email();
    const first = await api("POST", "/subscribers", { email: address, first_name: "A", tags: ["a"], custom_data: { x: 1 }, source: "form" });
    await api("POST", "/subscribers/unsubscribe", { email: address });
    const res = await api("POST", "/subscribers", { email: address, last_name: "B", tags: ["b"], custom_data: { y: 2 }, source: "api", is_active: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: first.body.id, first_name: "A", last_name: "B", tags: ["a", "b"], custom_data: { x: 1, y: 2 }, source: "form" });
    // An upsert never resubscribes.
    expect(res.body.status).toBe("unsubscribed");
    expect(res.body.is_active).toBe(false);
    expect(res.body.warnings.map((w: any) => [w.code, w.param])).toEqual([["parameter_ignored", "source"], ["parameter_ignored", "is_active"]]);
    expect(tagsOf(first.body.id)).toEqual(["a", "b"]);
    expect(eventsOf(first.body.id).at(-1)!.type).toBe("subscriber.updated");
  });

  test("double_opt_in: the subscriber is pending (not subscribed yet) and a confirmation email is queued with the link", async () => {
    const address = email("doi");
    const res = await api("POST", "/subscribers", { email: address, double_opt_in: true });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: "pending", confirmation_status: "pending", confirmed_at: null });
    expect(res.body.warnings).toBeUndefined();
    expect(res.body.confirmation_url).toMatch(new RegExp(`^${server.deps.config.publicUrl}/c/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{22}$`));
    expect(eventsOf(res.body.id).map((e) => e.type)).toEqual(["subscriber.created"]);
    const [mail] = sql("SELECT kind, lane, status, recipient_email, data FROM messages WHERE subscriber_id = ?", res.body.id);
    expect(mail).toMatchObject({ kind: "system", lane: "priority", recipient_email: address });
    expect(JSON.parse(mail.data)).toEqual({ confirmation_url: res.body.confirmation_url });
    // Not eligible for broadcasts while pending (§3).
    expect((await api("GET", "/subscribers", { confirmation_status: "pending", email: address })).body.pagination.total).toBe(1);

    // Asking a confirmed subscriber again changes nothing and sends nothing (§3 Compat).
    const confirmed = await api("POST", "/subscribers", { email: email("doi"), confirmed_at: "2026-01-01T00:00:00.000Z" });
    const again = await api("POST", "/subscribers", { email: confirmed.body.email, double_opt_in: { reply_to: "help@example.com" } });
    expect(again.status).toBe(200);
    expect(again.body.confirmation_status).toBe("confirmed");
    expect(again.body.confirmation_url).toBeUndefined();
    expect(sql("SELECT count(*) AS n FROM messages WHERE subscriber_id = ?", confirmed.body.id)[0].n).toBe(0);
  });

  test("double_opt_in: bad option values and an unknown confirmation template are 422 with nothing stored", async () => {
    const before = count();
    const bad = await api("POST", "/subscribers", { email: email("doi"), double_opt_in: { reply_to: "nope", colour: 1 } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual({ "double_opt_in.reply_to": ["is invalid"], "double_opt_in.colour": ["is not a double_opt_in option (reply_to, confirmation_template_id, include_unsubscribe_link)"] });
    expect((await api("POST", "/subscribers", { email: email("doi"), double_opt_in: "maybe" })).body.errors).toEqual({ double_opt_in: ["must be true, false or an object"] });
    const unknown = await api("POST", "/subscribers", { email: email("doi"), double_opt_in: true, confirmation_template_id: 999999 });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual({ confirmation_template_id: ["does not exist in this channel"] });
    expect(count()).toBe(before);
  });

  test("confirmed_at is set by scope-all tokens and ignored for channel tokens", async () => {
    const at = "2026-01-01T00:00:00.000Z";
    const a = await api("POST", "/subscribers", { email: email(), confirmed_at: at });
    expect(a.body.confirmed_at).toBe(at);
    expect(a.body.confirmation_status).toBe("confirmed");
    const token = createTestToken(server.deps, { permissions: ["subscribers_write"], channels: ["default"] });
    const b = await server.request("POST", "/api/v1/subscribers", { token, body: { email: email(), confirmed_at: at, foo: 1 } });
    expect(b.status).toBe(201);
    expect(b.body.confirmed_at).toBeNull();
    expect(b.body.warnings.map((w: any) => [w.code, w.param])).toEqual([["parameter_ignored", "confirmed_at"], ["unrecognized_parameter", "foo"]]);
  });

  test("find is case-insensitive; .json suffix works", async () => {
    const address = email();
    const created = await api("POST", "/subscribers", { email: address });
    const res = await api("GET", "/subscribers/find.json", { email: address.toUpperCase() });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created.body);
  });

  test("PATCH renames, replaces tags and custom_data, clears with null; custom_data_mode merge merges", async () => {
    const address = email();
    const renamed = email("renamed");
    const c = await api("POST", "/subscribers", { email: address, first_name: "X", tags: ["a", "b"], custom_data: { k: 1, j: 2 } });
    const res = await api("PATCH", "/subscribers", { email: address, subscriber: { email: renamed.toUpperCase(), first_name: null, tags: ["c"], custom_data: { z: 1 } } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: c.body.id, email: renamed, first_name: null, tags: ["c"], custom_data: { z: 1 } });
    expect(tagsOf(c.body.id)).toEqual(["c"]);
    const merged = await api("PATCH", "/subscribers", { email: renamed, custom_data: { y: 2 }, custom_data_mode: "merge", confirmed_at: "2026-01-01" });
    expect(merged.body.custom_data).toEqual({ z: 1, y: 2 });
    expect(merged.body.confirmed_at).toBeNull();
    expect(merged.body.warnings).toEqual([{ code: "parameter_ignored", param: "confirmed_at", message: expect.any(String) }]);
    expect(eventsOf(c.body.id).map((e) => e.type).slice(-2)).toEqual(["subscriber.updated", "subscriber.updated"]);
    // PUT is PATCH.
    const put = await api("PUT", "/subscribers.json", { email: renamed, subscriber: { last_name: "P" } });
    expect(put.body.last_name).toBe("P");
  });

  test("add_tag and remove_tag keep subscriber_tags in sync", async () => {
    const address = email();
    const c = await api("POST", "/subscribers", { email: address, tags: ["a"] });
    const add = await api("POST", "/subscribers/add_tag", { subscriber: { email: address }, tags: ["c", "b", "a"] });
    expect(add.body.tags).toEqual(["a", "b", "c"]);
    expect(tagsOf(c.body.id)).toEqual(["a", "b", "c"]);
    const rm = await server.request("DELETE", "/api/v1/subscribers/remove_tag", { body: { channel: "default", email: address, tags: ["a", "zzz"] } });
    expect(rm.status).toBe(200);
    expect(rm.body.tags).toEqual(["b", "c"]);
    expect(tagsOf(c.body.id)).toEqual(["b", "c"]);
  });

  test("deactivate / activate toggle is_active and status", async () => {
    const address = email();
    await api("POST", "/subscribers", { email: address });
    const d = await api("POST", "/subscribers/deactivate", { email: address });
    expect(d.body).toMatchObject({ is_active: false, status: "inactive" });
    const a = await api("POST", "/subscribers/activate", { email: address });
    expect(a.body).toMatchObject({ is_active: true, status: "active" });
  });

  test("unsubscribe then resubscribe, with events", async () => {
    const address = email();
    const c = await api("POST", "/subscribers", { email: address });
    clock.advance(1000);
    const u = await api("POST", "/subscribers/unsubscribe", { email: address });
    expect(u.body).toMatchObject({ is_active: false, status: "unsubscribed", unsubscribed_at: new Date(clock.now()).toISOString() });
    const again = await api("POST", "/subscribers/unsubscribe", { email: address });
    expect(again.body.unsubscribed_at).toBe(u.body.unsubscribed_at);
    const r = await api("POST", "/subscribers/resubscribe", { email: address });
    expect(r.body).toMatchObject({ is_active: true, status: "active", unsubscribed_at: null });
    expect(eventsOf(c.body.id).map((e) => e.type)).toEqual(["subscriber.created", "subscriber.subscribed", "subscriber.unsubscribed", "subscriber.subscribed"]);
  });

  test("redact removes personal data for good, keeps the row and emits subscriber.deleted", async () => {
    const address = email();
    const c = await api("POST", "/subscribers", { email: address, first_name: "Ada", last_name: "L", ip_address: "203.0.113.9", tags: ["t"], custom_data: { p: 1 } });
    const id = c.body.id;
    const res = await api("POST", "/subscribers/redact", { email: address });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: "Subscriber successfully redacted" });
    const row = sql("SELECT * FROM subscribers WHERE id = ?", id)[0];
    expect(row).toMatchObject({ email: `redacted-${id}@redacted.invalid`, first_name: null, last_name: null, ip_address: null, tags: "[]", custom_data: "{}" });
    expect(tagsOf(id)).toEqual([]);
    expect((await api("GET", "/subscribers/find", { email: address })).status).toBe(404);
    const events = eventsOf(id);
    expect(events.at(-1)!.type).toBe("subscriber.deleted");
    expect(events.at(-1)!.data.subscriber).toMatchObject({ id, email: `redacted-${id}@redacted.invalid`, first_name: null, custom_data: null, tags: [] });
    // Earlier events no longer carry the address or profile.
    expect(JSON.stringify(sql("SELECT email, data FROM events WHERE subscriber_id = ?", id))).not.toContain(address);
    expect(JSON.stringify(sql("SELECT email, data FROM events WHERE subscriber_id = ?", id))).not.toContain("Ada");
  });

  test("a redacted subscriber is gone for the email-keyed routes (404), so it cannot be resubscribed or edited", async () => {
    const c = await api("POST", "/subscribers", { email: email() });
    expect((await api("POST", "/subscribers/redact", { email: c.body.email })).status).toBe(200);
    const redacted = `redacted-${c.body.id}@redacted.invalid`;
    for (const [method, path, body] of [
      ["GET", "/subscribers/find", { email: redacted }],
      ["POST", "/subscribers/resubscribe", { email: redacted }],
      ["POST", "/subscribers/activate", { email: redacted }],
      ["POST", "/subscribers/add_tag", { email: redacted, tags: ["x"] }],
      ["PATCH", "/subscribers", { email: redacted, subscriber: { first_name: "Back" } }],
    ] as const) {
      const res = await api(method, path, body);
      expect([path, res.status, res.body]).toEqual([path, 404, { error: "Subscriber not found" }]);
    }
    expect(sql("SELECT is_active, unsubscribed_at IS NOT NULL AS unsub, first_name, tags FROM subscribers WHERE id = ?", c.body.id)[0]).toEqual({ is_active: 0, unsub: 1, first_name: null, tags: "[]" });
  });

  test("redact also scrubs delivery events of mail sent to the address (as typed) before the subscriber existed", async () => {
    const address = email("mixed");
    const typed = address.replace(/^m/, "M").replace("example.com", "Example.com");
    const sent = await api("POST", "/transactionals", { to: typed, subject: "s", body: "b" }, server.defaultToken);
    expect(sent.status).toBe(201);
    await eventually(() => sql("SELECT status FROM messages WHERE id = ?", sent.body.id)[0].status === "sent");
    const c = await api("POST", "/subscribers", { email: address });
    expect((await api("POST", "/subscribers/redact", { email: address })).status).toBe(200);
    const left = JSON.stringify(sql("SELECT email, data FROM events"));
    expect(left.toLowerCase()).not.toContain(address);
    expect(left).toContain(`redacted-${c.body.id}@redacted.invalid`);
  });
});

describe("list", () => {
  let tagged: string;
  beforeAll(async () => {
    tagged = email("listed");
    clock.advance(60_000);
    await api("POST", "/subscribers", { email: tagged, tags: ["l-one", "l-two"], custom_data: { tier: "gold", n: 5 }, source: "crm" });
    await api("POST", "/subscribers", { email: email("listed"), tags: ["l-one"], custom_data: { tier: "silver" }, is_active: false });
  });

  test("sends both envelopes with totals that match the table", async () => {
    const res = await api("GET", "/subscribers", { per_page: "2", page: "2" });
    expect(res.status).toBe(200);
    const total = (sql("SELECT count(*) AS n FROM subscribers WHERE channel_id = 1")[0] as any).n;
    expect(res.body.pagination).toEqual({ total, count: 2, from: 3, to: 4, current: 2, total_pages: Math.ceil(total / 2), per_page: 2 });
    expect(res.body.meta).toEqual({ current_page: 2, total_pages: Math.ceil(total / 2), total_count: total, per_page: 2 });
    expect(res.body.data).toEqual(res.body.subscribers);
    expect(res.body.subscribers[0].id).toBeLessThan(res.body.subscribers[1].id);
  });

  test("past the end: empty page with correct totals; oversize per_page is clamped", async () => {
    const res = await api("GET", "/subscribers", { page: "999", per_page: "1000" });
    expect(res.body.subscribers).toEqual([]);
    expect(res.body.pagination.from).toBeNull();
    expect(res.body.pagination.per_page).toBe(250);
    expect(res.body.warnings).toEqual([{ code: "value_adjusted", param: "per_page", message: expect.any(String) }]);
  });

  test.each([
    ["tags all", "tags[]=l-one&tags[]=l-two", 1],
    ["tags any", "tags[]=l-two&tags[]=l-one&tag_match_type=any", 2],
    ["custom_data string equality", "custom_data[tier]=gold", 1],
    ["custom_data number as string", "custom_data[n]=5&tags[]=l-one", 1],
    ["email_contains case-insensitive", "email_contains=LISTED", 2],
    ["is_active", "is_active=false&email=listed", 1],
    ["source", "source=crm", 1],
    ["subscription_status inactive", "subscription_status=inactive&tags[]=l-one", 1],
    ["confirmation_status", "confirmation_status=unconfirmed&tags[]=l-one", 2],
  ])("filter: %s", async (_name, query, expected) => {
    const res = await server.request("GET", `/api/v1/subscribers?channel=default&${query}`);
    expect(res.status).toBe(200);
    expect(res.body.pagination.total).toBe(expected);
    expect(res.body.subscribers.length).toBe(expected);
  });

  test("created_after filters by time; an unparseable value is ignored with a warning", async () => {
    const since = new Date(clock.now() - 1).toISOString();
    const res = await api("GET", "/subscribers", { created_after: since });
    expect(res.body.subscribers.every((s: any) => s.created_at >= since)).toBe(true);
    expect(res.body.subscribers.length).toBeGreaterThanOrEqual(2);
    const bad = await api("GET", "/subscribers", { created_after: "yesterday", per_page: "1" });
    expect(bad.status).toBe(200);
    expect(bad.body.warnings).toEqual([{ code: "parameter_ignored", param: "created_after", message: expect.any(String) }]);
  });

  test("bad filter values are 422", async () => {
    expect((await api("GET", "/subscribers", { is_active: "maybe" })).body.errors).toEqual({ is_active: ["must be true or false"] });
    expect((await api("GET", "/subscribers", { tag_match_type: "some" })).status).toBe(422);
    expect((await api("GET", "/subscribers", { subscription_status: "x" })).status).toBe(422);
  });
});

describe("errors", () => {
  test.each([
    ["invalid email", { email: "not-an-email" }, { email: ["is invalid"] }],
    ["missing email", { first_name: "A" }, { email: ["can't be blank"] }],
    ["over-long first_name", { email: "x@example.com", first_name: "x".repeat(101) }, { first_name: ["is too long (maximum is 100 characters)"] }],
    ["too many tags", { email: "x@example.com", tags: Array.from({ length: 101 }, (_, i) => `t${i}`) }, { tags: ["has too many tags (maximum is 100)"] }],
    ["tag with comma, long tag, empty tag", { email: "x@example.com", tags: ["a,b", "x".repeat(65), " "] },
      { "tags.0": ["can't contain commas"], "tags.1": ["is too long (maximum is 64 characters)"], "tags.2": ["can't be blank"] }],
    ["too many custom keys", { email: "x@example.com", custom_data: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i])) },
      { custom_data: ["has too many keys (maximum is 100)"] }],
    ["long key, deep nesting", { email: "x@example.com", custom_data: { ["k".repeat(65)]: 1, a: { b: { c: { d: 1 } } } } },
      { [`custom_data.${"k".repeat(65)}`]: ["key is too long (maximum is 64 characters)"], "custom_data.a.b.c": ["is nested too deeply (maximum depth is 3)"] }],
    ["custom_data too large", { email: "x@example.com", custom_data: { big: "x".repeat(16 * 1024) } }, { custom_data: ["is too large (maximum is 16384 bytes)"] }],
    ["wrong types (wrapped paths)", { subscriber: { email: "x@example.com", is_active: "maybe", tags: 5, custom_data: [1] } },
      { "subscriber.is_active": ["must be true or false"], "subscriber.tags": ["must be an array of strings or a comma-separated string"], "subscriber.custom_data": ["must be an object"] }],
  ])("create: %s → 422 and nothing written", async (_name, body, errors) => {
    const before = count();
    const res = await api("POST", "/subscribers", body as Record<string, unknown>);
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual(errors);
    expect(typeof res.body.error).toBe("string");
    expect(count()).toBe(before);
  });

  test("PATCH to an email that is taken → 422 and no change", async () => {
    const a = email();
    const b = email();
    await api("POST", "/subscribers", { email: a });
    await api("POST", "/subscribers", { email: b });
    const res = await api("PATCH", "/subscribers", { email: a, subscriber: { email: b, first_name: "Z" } });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ error: "Email has already been taken", errors: { email: ["has already been taken"] } });
    expect((await api("GET", "/subscribers/find", { email: a })).body.first_name).toBeNull();
  });

  test("upsert whose merged custom_data exceeds 100 keys → 422, row unchanged", async () => {
    const address = email();
    await api("POST", "/subscribers", { email: address, custom_data: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`a${i}`, i])) });
    const res = await api("POST", "/subscribers", { email: address, first_name: "New", custom_data: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`b${i}`, i])) });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ custom_data: ["has too many keys (maximum is 100)"] });
    expect((await api("GET", "/subscribers/find", { email: address })).body.first_name).toBeNull();
  });

  test.each([
    ["GET", "/subscribers/find"], ["PATCH", "/subscribers"], ["POST", "/subscribers/add_tag"], ["DELETE", "/subscribers/remove_tag"],
    ["POST", "/subscribers/activate"], ["POST", "/subscribers/deactivate"], ["POST", "/subscribers/unsubscribe"],
    ["POST", "/subscribers/resubscribe"], ["POST", "/subscribers/redact"],
  ])("%s %s with an unknown email → 404", async (method, path) => {
    const res = await api(method, path, { email: "nobody@example.com", tags: ["x"] });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: "Subscriber not found" });
  });

  test("add_tag without tags → 422", async () => {
    const address = email();
    await api("POST", "/subscribers", { email: address });
    const res = await api("POST", "/subscribers/add_tag", { email: address });
    expect(res.body.errors).toEqual({ tags: ["can't be blank"] });
  });

  test("resubscribe of a suppressed address → 422 with the reason (channel and global lists)", async () => {
    const address = email();
    await api("POST", "/subscribers", { email: address });
    await api("POST", "/subscribers/unsubscribe", { email: address });
    await api("POST", "/suppressions", { email: address, reason: "hard_bounce" });
    const res = await api("POST", "/subscribers/resubscribe", { email: address });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ error: "Address is suppressed (hard_bounce); remove the suppression first" });
    await server.request("DELETE", "/api/v1/suppressions", { body: { channel: "default", email: address } });
    await server.request("POST", "/api/v1/global_suppressions", { body: { email: address, reason: "complaint" } });
    expect((await api("POST", "/subscribers/resubscribe", { email: address })).body).toEqual({
      error: "Address is suppressed (complaint); remove the suppression first",
    });
    expect((await api("GET", "/subscribers/find", { email: address })).body.status).toBe("unsubscribed");
  });

  test("email-keyed routes need exactly one channel", async () => {
    const res = await server.request("POST", "/api/v1/subscribers", { body: { email: email() } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ channel: ["must identify exactly one channel"] });
  });
});

describe("permissions", () => {
  test("write-only and read-only tokens get 403 for the other half", async () => {
    const reader = createTestToken(server.deps, { preset: "read_only", channels: ["default"] });
    const writer = createTestToken(server.deps, { permissions: ["subscribers_write"], channels: ["default"] });
    const w = await server.request("POST", "/api/v1/subscribers", { token: reader, body: { email: email() } });
    expect(w.status).toBe(403);
    expect(w.body).toEqual({ error: "Forbidden", message: "Insufficient permissions for this action", required_permission: "subscribers_write" });
    const r = await server.request("GET", "/api/v1/subscribers", { token: writer });
    expect(r.status).toBe(403);
    expect(r.body.required_permission).toBe("subscribers_read");
    expect((await server.request("GET", "/api/v1/subscribers", { token: null })).status).toBe(401);
  });

  test("a channel-scoped token sees only its channel's subscribers", async () => {
    const marketingAddress = email("mkt");
    const defaultAddress = email("dflt");
    await server.request("POST", "/api/v1/subscribers", { body: { channel: "marketing", email: marketingAddress } });
    await api("POST", "/subscribers", { email: defaultAddress });
    const token = createTestToken(server.deps, { preset: "all", channels: ["marketing"] });
    const list = await server.request("GET", "/api/v1/subscribers", { token });
    expect(list.status).toBe(200);
    expect(list.body.subscribers.map((s: any) => s.channel)).toEqual(list.body.subscribers.map(() => "marketing"));
    expect(list.body.subscribers.map((s: any) => s.email)).toContain(marketingAddress);
    expect(list.body.pagination.total).toBe((sql("SELECT count(*) AS n FROM subscribers WHERE channel_id = 2")[0] as any).n);
    // Without a selector, the token's single channel is the target.
    expect((await server.request("GET", `/api/v1/subscribers/find?email=${marketingAddress}`, { token })).status).toBe(200);
    // Another channel's subscriber with an explicit own-channel selector → 404.
    const other = await server.request("GET", `/api/v1/subscribers/find?channel=marketing&email=${defaultAddress}`, { token });
    expect(other.status).toBe(404);
    expect(other.body).toEqual({ error: "Subscriber not found" });
    // A selector outside its channels → 403.
    const outside = await server.request("GET", `/api/v1/subscribers/find?channel=default&email=${defaultAddress}`, { token });
    expect(outside.status).toBe(403);
    expect(outside.body).toEqual({ error: "Forbidden", message: "Token is not scoped to channel(s): default" });
    const write = await server.request("POST", "/api/v1/subscribers/unsubscribe", { token, body: { channel: "default", email: defaultAddress } });
    expect(write.status).toBe(403);
    expect((await api("GET", "/subscribers/find", { email: defaultAddress })).body.status).toBe("active");
  });
});
