/** §4 /transactionals over real HTTP and SQLite: send, read, quota, suppression, Idempotency-Key (§1.9). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { channels, messages, subscribers, suppressions, templates } from "@/db/schema";
import { peekQuota } from "@/features/channels/quota";
import { upsertSubscriber } from "@/features/subscribers/service";
import { idempotencyReplay, releaseIdempotency } from "@/features/transactionals/idempotency";
import { createTestChannel, createTestToken } from "../fixtures";
import { fakeClock, startTestServer, type TestServer } from "../harness";

let server: TestServer;
const clock = fakeClock();
const PUBLIC = "https://mail.example.com";

beforeAll(async () => {
  // Nothing is delivered in these tests: they look at what the API committed.
  server = await startTestServer({ clock, env: { MAILROOM_PUBLIC_URL: PUBLIC }, startJobs: false });
  createTestChannel(server.deps, "Marketing", { sender_email: "news@example.com", monthly_send_quota: 5 });
  createTestChannel(server.deps, "No Sender");
  createTestChannel(server.deps, "Sales", { sender_email: "sales@example.com" });
});
afterAll(() => server.stop());

const send = (body: Record<string, unknown>, o: { token?: string; headers?: Record<string, string>; path?: string } = {}) =>
  server.request("POST", o.path ?? "/api/v1/transactionals", { token: o.token ?? server.defaultToken, body, headers: o.headers });
const row = (id: number) => server.deps.db.select().from(messages).where(eq(messages.id, id)).get()!;
const channel = (slug: string) => server.deps.db.select().from(channels).where(eq(channels.slug, slug)).get()!;
const messageCount = () => server.deps.db.select().from(messages).all().length;

describe("happy", () => {
  test("201 with the §4 object, committed before the response, quota and send-bucket headers", async () => {
    const res = await send({ to: " Ada Lovelace <Ada@Example.com> ", subject: "Your receipt", body: "<p>Thanks</p>", reply_to: "help@example.com" });
    expect(res.status).toBe(201);
    const id = res.body.id;
    expect(res.body).toEqual({
      id,
      channel: "default",
      recipient_email: "Ada@Example.com",
      recipient_name: "Ada Lovelace",
      subject: "Your receipt",
      body: "<p>Thanks</p>",
      preheader: null,
      reply_to: "help@example.com",
      template_id: null,
      source: "api",
      status: "queued",
      message_id: expect.stringMatching(new RegExp(`^<${id}\\.[a-z0-9]{8}@mail\\.example\\.com>$`)),
      queue_at: new Date(clock.now()).toISOString(),
      sent_at: null,
      failed_at: null,
      failure_reason: null,
      opened_at: null,
      clicked_at: null,
      created_at: new Date(clock.now()).toISOString(),
      updated_at: new Date(clock.now()).toISOString(),
      status_url: `${PUBLIC}/api/v1/transactionals/${id}.json`,
    });
    expect(res.headers.get("x-quota-used")).toBe("1");
    expect(res.headers.get("x-quota-cap")).toBeNull();
    expect(res.headers.get("x-ratelimit-limit")).toBe("600");
    expect(row(id)).toMatchObject({ status: "queued", kind: "transactional", recipient_email: "Ada@Example.com", next_attempt_at: clock.now() });
    const got = await server.request("GET", `/api/v1/transactionals/${id}.json`, { token: server.defaultToken });
    expect(got.body).toEqual(res.body);
  });

  test("wrapped fields, template content with explicit overrides, data stored", async () => {
    const now = clock.now();
    const t = server.deps.db
      .insert(templates)
      .values({ channel_id: 1, label: "Receipt", subject: "Receipt {{ data.n }}", body: "<p>{{ data.n }}</p>", preheader: "pre", confirmation_page_settings: {}, created_at: now, updated_at: now })
      .returning()
      .get();
    const res = await send({ transactional: { to: "bob@example.com", template_id: String(t.id), data: { n: 7 } } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ template_id: t.id, subject: "Receipt {{ data.n }}", body: "<p>{{ data.n }}</p>", preheader: "pre" });
    expect(row(res.body.id).data).toEqual({ n: 7 });
    const override = await send({ to: "bob@example.com", template_id: t.id, subject: "Custom" });
    expect(override.body).toMatchObject({ subject: "Custom", body: "<p>{{ data.n }}</p>" });
  });

  test("links the channel's subscriber (case-insensitive); `subscriber` upserts one with source transactional", async () => {
    const def = channel("default");
    const sub = upsertSubscriber(server.deps, def, { email: "carol@example.com" }).subscriber;
    const linked = await send({ to: "CAROL@example.com", subject: "s", body: "b" });
    expect(row(linked.body.id).subscriber_id).toBe(sub.id);
    const plain = await send({ to: "dave@example.com", subject: "s", body: "b" });
    expect(row(plain.body.id).subscriber_id).toBeNull();
    expect(server.deps.db.select().from(subscribers).where(eq(subscribers.email, "dave@example.com")).get()).toBeUndefined();
    const created = await send({ to: "erin@example.com", subject: "s", body: "b", subscriber: { first_name: "Erin" } });
    const erin = server.deps.db.select().from(subscribers).where(eq(subscribers.email, "erin@example.com")).get()!;
    expect(erin).toMatchObject({ first_name: "Erin", source: "transactional" });
    expect(row(created.body.id).subscriber_id).toBe(erin.id);
  });

  test("double_opt_in holds the message behind a confirmation email (two quota units); confirmed recipients are sent at once; unknown fields warned", async () => {
    const used = peekQuota(server.deps.db, channel("default"), clock.now()).used;
    const res = await send({ to: "doi@example.com", subject: "s", body: "b", double_opt_in: true, colour: "red" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: "pending_confirmation", confirmation_status: "pending" });
    expect(res.body.confirmation_url).toStartWith(`${PUBLIC}/c/`);
    expect(res.body.warnings).toEqual([expect.objectContaining({ code: "unrecognized_parameter", param: "colour" })]);
    expect(res.headers.get("x-quota-used")).toBe(String(used + 2));
    const held = row(res.body.id);
    expect(held.next_attempt_at).toBeNull();
    const confirmation = server.deps.db.select().from(messages).where(eq(messages.kind, "system")).all().at(-1)!;
    expect(confirmation).toMatchObject({ status: "queued", lane: "priority", subscriber_id: held.subscriber_id, recipient_email: "doi@example.com" });
    expect(confirmation.next_attempt_at).not.toBeNull();
    // The token names the held message: [subscriber_id, expires_unix, transactional_id].
    const payload = JSON.parse(Buffer.from(res.body.confirmation_url.split("/c/")[1].split(".")[0], "base64url").toString());
    expect(payload).toEqual([held.subscriber_id, Math.floor(clock.now() / 1000) + 7 * 86400, res.body.id]);

    const ok = await send({ to: "confirmed-doi@example.com", subject: "s", body: "b" });
    upsertSubscriber(server.deps, channel("default"), { email: "confirmed-doi@example.com", confirmed_at: clock.now() });
    const direct = await send({ to: "confirmed-doi@example.com", subject: "s", body: "b", double_opt_in: true });
    expect(direct.body).toMatchObject({ status: "queued", confirmation_status: "confirmed" });
    expect(direct.body.confirmation_url).toBeUndefined();
    expect(ok.body.confirmation_status).toBeUndefined();
  });

  test("list: newest first, filters, offset envelope", async () => {
    const a = await send({ to: "list1@example.com", subject: "s", body: "b" });
    const b = await send({ to: "list2@example.com", subject: "s", body: "b" });
    const all = await server.request("GET", "/api/v1/transactionals?limit=2", { token: server.defaultToken });
    expect(all.body.data.map((t: { id: number }) => t.id)).toEqual([b.body.id, a.body.id]);
    expect(all.body.limit).toBe(2);
    const byEmail = await server.request("GET", "/api/v1/transactionals?recipient_email=LIST1@example.com", { token: server.defaultToken });
    expect(byEmail.body.data.map((t: { id: number }) => t.id)).toEqual([a.body.id]);
    expect(byEmail.body.total).toBe(1);
    const sent = await server.request("GET", "/api/v1/transactionals?status=sent&source=api", { token: server.defaultToken });
    expect(sent.body).toEqual({ data: [], total: 0, limit: 100, offset: 0 });
  });

  test("quota headers with a cap, warning at 80 %, then 402 with nothing written", async () => {
    const opts = { token: server.adminToken };
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await send({ channel: "marketing", to: `q${i}@example.com`, subject: "s", body: "b" }, opts));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(results[3].headers.get("x-quota-cap")).toBe("5");
    expect(results[3].headers.get("x-quota-remaining")).toBe("1");
    expect(results[3].headers.get("x-quota-warning")).toBe("1");
    expect(results[2].headers.get("x-quota-warning")).toBeNull();
    await send({ channel: "marketing", to: "q4@example.com", subject: "s", body: "b" }, opts);
    const before = messageCount();
    const over = await send({ channel: "marketing", to: "q5@example.com", subject: "s", body: "b" }, opts);
    expect(over.status).toBe(402);
    expect(over.body).toEqual({ error: "Payment Required", message: "Monthly send quota exhausted" });
    expect(messageCount()).toBe(before);
  });
});

describe("errors", () => {
  test.each([
    [{ subject: "s", body: "b" }, { error: "To can't be blank", errors: { to: ["can't be blank"] } }],
    [{ to: ["a@example.com"], subject: "s", body: "b" }, { errors: { to: ["must be a single address (one recipient per request)"] } }],
    [{ to: "not-an-email", subject: "s", body: "b" }, { error: "To is invalid" }],
    [{ to: "a@example.com" }, { errors: { subject: ["can't be blank"], body: ["can't be blank"] } }],
    [{ to: "a@example.com", subject: "s", body: "{% if %}" }, { errors: { body: [expect.stringContaining("Liquid syntax error")] } }],
    [{ to: "a@example.com", subject: "x".repeat(999), body: "b" }, { errors: { subject: ["is too long (maximum is 998 characters)"] } }],
    [{ to: "a@example.com", subject: "s", body: "b", data: [1] }, { errors: { data: ["must be an object"] } }],
    [{ to: "a@example.com", subject: "s", body: "b", data: { big: "x".repeat(17_000) } }, { errors: { data: ["is too large (maximum is 16384 bytes)"] } }],
    [{ to: "a@example.com", template_id: 999999 }, { errors: { template_id: ["does not exist in this channel"] } }],
  ])("422 %#", async (body, expected) => {
    const before = messageCount();
    const res = await send(body);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject(expected);
    expect(messageCount()).toBe(before);
  });

  test("suppressed recipient → 422 exactly as §4, no quota used", async () => {
    const def = channel("default");
    server.deps.db.insert(suppressions).values({ channel_id: def.id, email: "blocked@example.com", reason: "hard_bounce", created_at: clock.now() }).run();
    server.deps.db.insert(suppressions).values({ channel_id: null, email: "global@example.com", reason: "complaint", created_at: clock.now() }).run();
    const used = peekQuota(server.deps.db, def, clock.now()).used;
    const res = await send({ to: "Blocked@Example.com", subject: "s", body: "b" });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ error: "To is suppressed (hard_bounce)", errors: { to: ["is suppressed (hard_bounce)"] } });
    const global = await send({ to: "global@example.com", subject: "s", body: "b" });
    expect(global.body.error).toBe("To is suppressed (complaint)");
    expect(peekQuota(server.deps.db, def, clock.now()).used).toBe(used);
  });

  test("channel without sender_email → 422", async () => {
    const res = await send({ channel: "no-sender", to: "a@example.com", subject: "s", body: "b" }, { token: server.adminToken });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ channel: ["has no sender_email"] });
  });

  test("get: 404 for unknown ids", async () => {
    expect((await server.request("GET", "/api/v1/transactionals/99999999")).body).toEqual({ error: "Transactional not found" });
    expect((await server.request("GET", "/api/v1/transactionals/x1")).status).toBe(404);
  });

  test("list: bad status → 422", async () => {
    const res = await server.request("GET", "/api/v1/transactionals?status=lost", { token: server.defaultToken });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ status: ["is not included in the list"] });
  });
});

describe("idempotency", () => {
  const body = { to: "idem@example.com", subject: "Once", body: "<p>only once</p>" };

  test("same key + payload replays the stored 201 (no new message, no quota, general bucket)", async () => {
    const key = { "idempotency-key": "order-1001" };
    const first = await send(body, { headers: key });
    expect(first.status).toBe(201);
    const count = messageCount();
    const used = peekQuota(server.deps.db, channel("default"), clock.now()).used;
    // Same request through `.json`, wrapped, keys in another order: same fingerprint.
    const again = await send({ transactional: { body: body.body, subject: body.subject, to: body.to } }, { headers: key, path: "/api/v1/transactionals.json" });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotency-replayed")).toBe("true");
    expect(again.headers.get("x-ratelimit-limit")).toBe("120");
    expect(first.headers.get("idempotency-replayed")).toBeNull();
    expect(messageCount()).toBe(count);
    expect(peekQuota(server.deps.db, channel("default"), clock.now()).used).toBe(used);
  });

  test("same key, different payload → 422; keys are per token", async () => {
    const key = { "idempotency-key": "order-1002" };
    expect((await send(body, { headers: key })).status).toBe(201);
    const other = await send({ ...body, subject: "Different" }, { headers: key });
    expect(other.status).toBe(422);
    expect(other.body).toEqual({ error: "Idempotency-Key has already been used with a different request payload" });
    const token2 = createTestToken(server.deps, { preset: "transactional" });
    const fresh = await send(body, { token: token2, headers: key });
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get("idempotency-replayed")).toBeNull();
  });

  test("a non-2xx releases the key", async () => {
    const key = { "idempotency-key": "order-1003" };
    expect((await send({ to: "idem@example.com" }, { headers: key })).status).toBe(422);
    const ok = await send(body, { headers: key });
    expect(ok.status).toBe(201);
    expect(ok.headers.get("idempotency-replayed")).toBeNull();
  });

  test("malformed keys → 422", async () => {
    for (const bad of ["x".repeat(256), "   ", "tab\there"]) {
      const res = await send(body, { headers: { "idempotency-key": bad } });
      expect(res.status).toBe(422);
    }
  });

  test("in flight → 409 (the replay hook seen by two concurrent requests)", () => {
    const hook = idempotencyReplay(server.deps);
    const principal = server.deps.auth.authenticate(server.defaultToken, "127.0.0.1");
    const req = () => new Request(`${server.url}/api/v1/transactionals`, { method: "POST", headers: { "idempotency-key": "in-flight-1" } });
    const first = req();
    expect(hook(first, principal, body)).toBeNull();
    expect(() => hook(req(), principal, body)).toThrow("A request with this Idempotency-Key is still being processed");
    expect(() => hook(req(), principal, { ...body, subject: "x" })).toThrow("different request payload");
    releaseIdempotency(first);
    expect(hook(req(), principal, body)).toBeNull();
  });

  test("kept 24 h", async () => {
    const key = { "idempotency-key": "order-1004" };
    const first = await send(body, { headers: key });
    clock.advance(24 * 3600_000 - 1);
    expect((await send(body, { headers: key })).headers.get("idempotency-replayed")).toBe("true");
    clock.advance(2);
    const later = await send(body, { headers: key });
    expect(later.status).toBe(201);
    expect(later.headers.get("idempotency-replayed")).toBeNull();
    expect(later.body.id).not.toBe(first.body.id);
  });
});

describe("permissions", () => {
  test("send needs transactionals_write, reads need transactionals_read", async () => {
    const reader = createTestToken(server.deps, { permissions: ["transactionals_read"] });
    const writer = createTestToken(server.deps, { permissions: ["transactionals_write"] });
    const denied = await send({ to: "a@example.com", subject: "s", body: "b" }, { token: reader });
    expect(denied.status).toBe(403);
    expect(denied.body.required_permission).toBe("transactionals_write");
    expect((await send({ to: "a@example.com", subject: "s", body: "b" }, { token: writer })).status).toBe(201);
    expect((await server.request("GET", "/api/v1/transactionals", { token: writer })).status).toBe(403);
    expect((await server.request("GET", "/api/v1/transactionals", { token: reader })).status).toBe(200);
  });

  test("a send needs exactly one channel; records outside T are 404", async () => {
    const both = createTestToken(server.deps, { preset: "transactional", channels: ["default", "sales"] });
    const res = await send({ to: "a@example.com", subject: "s", body: "b" }, { token: both });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ channel: ["must identify exactly one channel"] });
    const mkt = await send({ to: "a@example.com", subject: "s", body: "b", target: { channels: ["sales"] } }, { token: both });
    expect(mkt.status).toBe(201);
    expect(mkt.body.channel).toBe("sales");
    const outside = await server.request("GET", `/api/v1/transactionals/${mkt.body.id}`, { token: server.defaultToken });
    expect(outside.status).toBe(404);
    const list = await server.request("GET", "/api/v1/transactionals", { token: server.defaultToken });
    expect(list.body.data.some((t: { id: number }) => t.id === mkt.body.id)).toBe(false);
  });
});
