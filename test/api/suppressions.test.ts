import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../harness";
import { createTestChannel, createTestToken } from "../fixtures";
import { eq } from "drizzle-orm";
import { subscribers } from "@/db/schema";
import { isEligible, isSuppressed, recordHardBounce } from "@/features/subscribers/eligibility";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0" } });
  createTestChannel(server.deps, "Marketing");
});
afterAll(() => server.stop());

const sql = (query: string, ...params: unknown[]) => server.sql(query, ...params);
const one = (query: string, ...params: unknown[]) => sql(query, ...params)[0];
const call = (method: string, path: string, body?: Record<string, unknown>, token?: string) =>
  server.request(method, `/api/v1${path}`, { body: path.startsWith("/global") ? body : { channel: "default", ...body }, token });
const get = (path: string, token?: string) => server.request("GET", `/api/v1${path}`, { token });

describe("happy", () => {
  test("add: 201 created, then 200 existing; stored lower-case with source api", async () => {
    const a = await call("POST", "/suppressions", { email: " Block@Example.com ", reason: "hard_bounce" });
    expect(a.status).toBe(201);
    expect(a.body).toEqual({ id: expect.any(Number), channel: "default", email: "block@example.com", reason: "hard_bounce", source: "api", created_at: expect.any(String), created: true });
    const b = await call("POST", "/suppressions.json", { suppression: { email: "block@example.com" } });
    expect(b.status).toBe(200);
    expect(b.body).toMatchObject({ id: a.body.id, reason: "hard_bounce", created: false });
  });

  test("list spans T, filters by partial email and reason, page envelope", async () => {
    await call("POST", "/suppressions", { email: "list1@supp.test" });
    await call("POST", "/suppressions", { email: "list2@supp.test", reason: "complaint" });
    await call("POST", "/suppressions", { channel: "marketing", email: "list3@supp.test" });
    const all = await get("/suppressions?email=SUPP.TEST");
    expect(all.body.suppressions.map((s: any) => [s.channel, s.email])).toEqual([
      ["default", "list1@supp.test"], ["default", "list2@supp.test"], ["marketing", "list3@supp.test"],
    ]);
    expect(all.body.pagination).toEqual({ total: 3, count: 3, from: 1, to: 3, current: 1, total_pages: 1, per_page: 250 });
    const complaints = await get("/suppressions?channel=default&reason=complaint&email=supp.test");
    expect(complaints.body.suppressions.map((s: any) => s.email)).toEqual(["list2@supp.test"]);
    const page2 = await get("/suppressions?email=supp.test&per_page=2&page=2");
    expect(page2.body.pagination).toMatchObject({ total: 3, count: 1, from: 3, to: 3, total_pages: 2 });
  });

  test("remove: removed true, then false (not an error)", async () => {
    await call("POST", "/suppressions", { email: "gone@supp.test" });
    expect((await call("DELETE", "/suppressions", { email: "GONE@supp.test" })).body).toEqual({ email: "gone@supp.test", removed: true });
    expect((await call("DELETE", "/suppressions", { email: "gone@supp.test" })).body).toEqual({ email: "gone@supp.test", removed: false });
  });

  test("bulk add is idempotent and reports invalid addresses; bulk remove counts not_found", async () => {
    await call("POST", "/suppressions", { email: "b0@supp.test" });
    const add = await call("POST", "/suppressions/bulk", { emails: ["b0@supp.test", "b1@supp.test", "B1@supp.test", "b2@supp.test", "nope", 7] });
    expect(add.status).toBe(200);
    expect(add.body).toEqual({ added: 2, already_suppressed: 2, invalid: 2, invalid_emails: ["nope", 7] });
    const again = await call("POST", "/suppressions/bulk", { emails: ["b1@supp.test", "b2@supp.test"] });
    expect(again.body).toEqual({ added: 0, already_suppressed: 2, invalid: 0, invalid_emails: [] });
    const rm = await call("DELETE", "/suppressions/bulk", { emails: ["b1@supp.test", "b2@supp.test", "missing@supp.test"] });
    expect(rm.body).toEqual({ removed: 2, not_found: 1 });
    expect(one("SELECT count(*) AS n FROM suppressions WHERE email IN ('b1@supp.test','b2@supp.test')").n).toBe(0);
  });

  test("check reads the channel list and the global list", async () => {
    await call("POST", "/suppressions", { email: "chan@supp.test", reason: "hard_bounce" });
    await call("POST", "/global_suppressions", { email: "glob@supp.test", reason: "complaint" });
    expect((await get("/suppressions/check?channel=default&email=Chan@supp.test")).body).toEqual({ email: "chan@supp.test", suppressed: true, scope: "channel", reason: "hard_bounce" });
    expect((await get("/suppressions/check?channel=marketing&email=glob@supp.test")).body).toEqual({ email: "glob@supp.test", suppressed: true, scope: "global", reason: "complaint" });
    expect((await get("/suppressions/check?channel=marketing&email=chan@supp.test")).body).toEqual({ email: "chan@supp.test", suppressed: false, scope: null, reason: null });
  });

  test("global list: add, list (channel null), bulk, remove leaves channel entries alone", async () => {
    await call("POST", "/suppressions", { email: "both@supp.test" });
    const add = await call("POST", "/global_suppressions", { email: "both@supp.test" });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ channel: null, email: "both@supp.test", reason: "manual", created: true });
    const list = await get("/global_suppressions?email=both@");
    expect(list.body.suppressions).toEqual([expect.objectContaining({ channel: null, email: "both@supp.test" })]);
    expect((await call("POST", "/global_suppressions/bulk", { emails: ["gb1@supp.test", "both@supp.test"] })).body).toEqual({
      added: 1, already_suppressed: 1, invalid: 0, invalid_emails: [],
    });
    expect((await call("DELETE", "/global_suppressions", { email: "both@supp.test" })).body).toEqual({ email: "both@supp.test", removed: true });
    expect(isSuppressed(server.deps.db, 1, "both@supp.test")).toEqual({ scope: "channel", reason: "manual" });
    expect((await call("DELETE", "/global_suppressions/bulk", { emails: ["gb1@supp.test", "x@supp.test"] })).body).toEqual({ removed: 1, not_found: 1 });
  });

  test("a complaint for an address the channel mailed sets complained_at and emits email.complained + subscriber.complained", async () => {
    const sub = await call("POST", "/subscribers", { email: "mailed@supp.test" });
    const now = Date.now();
    server.deps.database.raw
      .prepare(`INSERT INTO messages (channel_id, kind, source, status, recipient_email, subscriber_id, subject, message_id, queue_at, sent_at, created_at, updated_at)
                VALUES (1, 'transactional', 'api', 'sent', 'Mailed@supp.test', ?, 'Receipt', '<m1@test>', ?, ?, ?, ?)`)
      .run(sub.body.id, now, now, now, now);
    const res = await call("POST", "/suppressions", { email: "mailed@supp.test", reason: "complaint" });
    expect(res.status).toBe(201);
    const found = await get("/subscribers/find?channel=default&email=mailed@supp.test");
    expect(found.body.status).toBe("complained");
    expect(found.body.complained_at).not.toBeNull();
    const events = sql("SELECT type, data FROM events WHERE email = 'mailed@supp.test' AND type IN ('email.complained','subscriber.complained') ORDER BY id");
    expect(events.map((e) => e.type)).toEqual(["email.complained", "subscriber.complained"]);
    expect(JSON.parse(events[0].data)).toMatchObject({ channel: "default", message_id: "<m1@test>", subscriber_id: sub.body.id, subject: "Receipt" });
    // Never mailed: no side effects.
    await call("POST", "/subscribers", { email: "quiet@supp.test" });
    await call("POST", "/suppressions", { email: "quiet@supp.test", reason: "complaint" });
    expect((await get("/subscribers/find?channel=default&email=quiet@supp.test")).body.complained_at).toBeNull();
  });

  test("recordHardBounce (delivery worker): channel suppression, bounced_at, subscriber.bounced", async () => {
    const sub = await call("POST", "/subscribers", { email: "bounce@supp.test" });
    const row = server.deps.db.select().from(subscribers).where(eq(subscribers.id, sub.body.id)).get()!;
    expect(isEligible(server.deps.db, row)).toBe(true);
    const result = recordHardBounce(server.deps, 1, "Bounce@supp.test");
    expect(result.suppressionAdded).toBe(true);
    expect(result.subscriber?.bounced_at).not.toBeNull();
    expect(one("SELECT reason, source FROM suppressions WHERE channel_id = 1 AND email = 'bounce@supp.test'")).toEqual({ reason: "hard_bounce", source: "delivery" });
    expect(isEligible(server.deps.db, result.subscriber!)).toBe(false);
    const ev = one("SELECT data FROM events WHERE type = 'subscriber.bounced' AND subscriber_id = ?", sub.body.id);
    expect(JSON.parse(ev.data).subscriber).toMatchObject({ id: sub.body.id, status: "bounced" });
    // A second bounce keeps the one suppression row; an address without a subscriber is still suppressed.
    expect(recordHardBounce(server.deps, 1, "bounce@supp.test").suppressionAdded).toBe(false);
    expect(recordHardBounce(server.deps, 1, "stranger@supp.test")).toEqual({ suppressionAdded: true, subscriber: null });
    expect(isSuppressed(server.deps.db, 1, "stranger@supp.test")).toEqual({ scope: "channel", reason: "hard_bounce" });
    expect(isSuppressed(server.deps.db, 2, "stranger@supp.test")).toBeNull();
  });
});

describe("errors", () => {
  test.each([
    ["POST", "/suppressions", { email: "nope" }, { email: ["is invalid"] }],
    ["POST", "/suppressions", {}, { email: ["can't be blank"] }],
    ["POST", "/suppressions", { email: "a@supp.test", reason: "spam" }, { reason: ["is not included in the list"] }],
    ["DELETE", "/suppressions", {}, { email: ["can't be blank"] }],
    ["POST", "/suppressions/bulk", {}, { emails: ["can't be blank"] }],
    ["POST", "/suppressions/bulk", { emails: "a@b.test" }, { emails: ["must be an array"] }],
    ["DELETE", "/global_suppressions/bulk", { emails: {} }, { emails: ["must be an array"] }],
  ])("%s %s invalid → 422", async (method, path, body, errors) => {
    const res = await call(method, path, body);
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual(errors);
  });

  test("bulk over 10,000 addresses → 422 and nothing written", async () => {
    const emails = Array.from({ length: 10_001 }, (_, i) => `over${i}@supp.test`);
    const res = await call("POST", "/suppressions/bulk", { emails });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ emails: ["is too long (maximum is 10000 addresses per request)"] });
    expect(one("SELECT count(*) AS n FROM suppressions WHERE email LIKE 'over%'").n).toBe(0);
    expect((await call("POST", "/global_suppressions/bulk", { emails })).status).toBe(422);
  });

  test("email-keyed channel routes need exactly one channel; the list does not", async () => {
    const res = await server.request("POST", "/api/v1/suppressions", { body: { email: "x@supp.test" } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ channel: ["must identify exactly one channel"] });
    expect((await get("/suppressions/check?email=x@supp.test")).status).toBe(422);
    expect((await get("/suppressions")).status).toBe(200);
  });

  test("bad list filter → 422", async () => {
    expect((await get("/suppressions?reason=spam")).status).toBe(422);
  });
});

describe("permissions", () => {
  test("read/write permissions are enforced", async () => {
    const reader = createTestToken(server.deps, { permissions: ["suppressions_read"], channels: ["default"] });
    const writer = createTestToken(server.deps, { permissions: ["suppressions_write"], channels: ["default"] });
    expect((await call("POST", "/suppressions", { email: "p@supp.test" }, reader)).body.required_permission).toBe("suppressions_write");
    expect((await get("/suppressions", writer)).body.required_permission).toBe("suppressions_read");
    expect((await get("/suppressions/check?email=p@supp.test", writer)).status).toBe(403);
    expect((await get("/suppressions/check?email=p@supp.test", reader)).status).toBe(200);
  });

  test("global routes need scope all (403 for a channel token with every permission)", async () => {
    const channelAll = createTestToken(server.deps, { preset: "all", channels: ["default", "marketing"] });
    const expected = { error: "Forbidden", message: "This action requires a token with scope all" };
    for (const [method, path] of [["GET", "/global_suppressions"], ["POST", "/global_suppressions"], ["DELETE", "/global_suppressions"],
      ["POST", "/global_suppressions/bulk"], ["DELETE", "/global_suppressions/bulk"]]) {
      const res = await server.request(method, `/api/v1${path}`, {
        token: channelAll,
        body: method === "GET" ? undefined : { email: "g@supp.test", emails: ["g@supp.test"] },
      });
      expect([path, res.status, res.body]).toEqual([path, 403, expected]);
    }
    expect(one("SELECT count(*) AS n FROM suppressions WHERE email = 'g@supp.test'").n).toBe(0);
    const scopeAllReader = createTestToken(server.deps, { permissions: ["suppressions_read"], scope: "all" });
    expect((await get("/global_suppressions", scopeAllReader)).status).toBe(200);
    expect((await call("POST", "/global_suppressions", { email: "g@supp.test" }, scopeAllReader)).status).toBe(403);
  });

  test("a channel token only sees and changes its own channel's list", async () => {
    await call("POST", "/suppressions", { channel: "marketing", email: "mkt-only@supp.test" });
    const token = createTestToken(server.deps, { permissions: ["suppressions_read", "suppressions_write"], channels: ["default"] });
    const list = await get("/suppressions?email=mkt-only", token);
    expect(list.body.suppressions).toEqual([]);
    expect((await get("/suppressions?channel=marketing", token)).status).toBe(403);
    const del = await server.request("DELETE", "/api/v1/suppressions", { token, body: { channel: "marketing", email: "mkt-only@supp.test" } });
    expect(del.status).toBe(403);
    expect((await server.request("DELETE", "/api/v1/suppressions", { token, body: { email: "mkt-only@supp.test" } })).body.removed).toBe(false);
    expect(one("SELECT count(*) AS n FROM suppressions WHERE email = 'mkt-only@supp.test'").n).toBe(1);
  });
});
