/**
 * Server limits: per-minute, rolling per-hour and per-day caps hold mail back (`waiting_for =
 * 'rate_limited'`, no attempt counted) until the window has room — counting sends whose batch is
 * not recorded yet and sends from before a restart; a held transactional emits one
 * `email.send_delayed`, also when a route change wakes it while it is held; `max_connections` is validated and caps the connections to the server.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { DeliveryJob } from "@/outbox/delivery-job";
import { SENT_BEFORE_SQL } from "@/outbox/routing";
import { eventually } from "../smtp/helpers";
import { defaultChannelId, startOutboxTest, type OutboxTest } from "./helpers";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
let t: OutboxTest;
beforeEach(async () => {
  t = await startOutboxTest();
});
afterEach(() => t.stop());

const sendDelayed = () => t.server.sql("SELECT data FROM events WHERE type = 'email.send_delayed'").map((e) => JSON.parse(e.data));

test("emails_per_minute = 2: the third message of the minute waits, says so once, and goes when the minute has passed", async () => {
  const s = await t.sink();
  await t.addServer(s.port, { emails_per_minute: 2 });
  const start = t.clock.now();
  const sent = [await t.send(), await t.send({ to: "grace@example.com" }), await t.send({ to: "alan@example.com" })];
  await t.tick();
  await s.waitFor(2);
  const held = sent.find((m) => t.row(m.id).status !== "sent")!;
  expect(t.row(held.id)).toMatchObject({ status: "queued", attempts: 0, waiting_for: "rate_limited" });
  const retryAt = t.row(held.id).next_attempt_at!;
  expect(retryAt).toBeGreaterThan(start);
  expect(retryAt).toBeLessThanOrEqual(start + MINUTE);
  expect(sendDelayed()).toEqual([
    expect.objectContaining({ transactional_id: held.id, reason: "rate_limited", next_attempt_at: new Date(retryAt).toISOString() }),
  ]);

  // Re-checked while the minute lasts: still held, no second event, nothing more at the sink.
  while (t.clock.now() < start + MINUTE) {
    t.clock.set(Math.min(t.row(held.id).next_attempt_at!, start + MINUTE));
    await t.tick();
    if (t.row(held.id).status === "sent") break;
    expect(t.row(held.id).waiting_for).toBe("rate_limited");
  }
  await s.waitFor(3);
  expect(t.clock.now()).toBe(start + MINUTE);
  expect(t.row(held.id)).toMatchObject({ status: "sent", attempts: 1, waiting_for: null });
  expect(t.eventTypes(held.id)).toEqual(["email.send_delayed", "email.sent", "email.delivered"]);
  expect(sendDelayed()).toHaveLength(1);
});

test("a held transactional says so once, also when the channel's servers change while it waits", async () => {
  const s = await t.sink();
  const server = await t.addServer(s.port, { emails_per_minute: 1 });
  const sent = [await t.send(), await t.send({ to: "grace@example.com" })];
  await t.tick();
  await s.waitFor(1);
  const held = sent.find((m) => t.row(m.id).status !== "sent")!;
  expect(sendDelayed()).toHaveLength(1);
  // Editing the server wakes waiting mail at once; the message is still at the cap and waits again.
  const edited = await t.server.request("PATCH", `/api/v1/email_servers/${server.id}`, { body: { label: "renamed" } });
  expect(edited.status).toBe(200);
  expect(t.row(held.id).next_attempt_at).toBe(t.clock.now());
  await t.tick();
  expect(t.row(held.id)).toMatchObject({ status: "queued", attempts: 0, waiting_for: "rate_limited" });
  expect(sendDelayed()).toHaveLength(1);
});

test("bulk mail held by a limit waits without an email.send_delayed event", async () => {
  const s = await t.sink();
  await t.addServer(s.port, { emails_per_minute: 1 });
  const [, held] = t.enqueueBulk(defaultChannelId(t), 2);
  await t.tick();
  await s.waitFor(1);
  expect(t.row(held!)).toMatchObject({ status: "queued", attempts: 0, waiting_for: "rate_limited" });
  expect(sendDelayed()).toEqual([]);
});

test.each([
  ["emails_per_hour", HOUR],
  ["emails_per_day", DAY],
])("%s = 1: the second message waits for the whole rolling window (not a calendar one), then goes", async (field, span) => {
  const s = await t.sink();
  await t.addServer(s.port, { [field]: 1 });
  const first = await t.send();
  await t.tick();
  await s.waitFor(1);
  const sentAt = t.row(first.id).sent_at!;
  const second = await t.send({ to: "grace@example.com" });
  t.clock.set(sentAt + span - SECOND);
  await t.tick();
  expect(t.row(second.id)).toMatchObject({ status: "queued", attempts: 0, waiting_for: "rate_limited" });
  expect(s.mailFrom).toBe(1);
  // A held message is re-checked at most a minute apart: it goes at the first check after room returns.
  const recheck = t.row(second.id).next_attempt_at!;
  expect(recheck).toBeGreaterThanOrEqual(sentAt + span);
  expect(recheck).toBeLessThanOrEqual(sentAt + span + MINUTE);
  t.clock.set(recheck);
  await t.tick();
  await s.waitFor(2);
  expect(t.row(second.id).status).toBe("sent");
});

test("sends recorded before a restart count against the limit in the new process", async () => {
  const s = await t.sink();
  await t.addServer(s.port, { emails_per_hour: 1 });
  await t.send();
  await t.tick();
  await s.waitFor(1);
  t.clock.advance(SECOND);
  const restarted = new DeliveryJob(t.server.deps);
  const second = await t.send({ to: "grace@example.com" });
  await restarted.tick(t.clock.now());
  expect(t.row(second.id)).toMatchObject({ status: "queued", waiting_for: "rate_limited" });
  expect(s.mailFrom).toBe(1);
  // The count reads one range of the partial index of sent mail (unsent rows are not in it).
  const plan = t.server.sql(`EXPLAIN QUERY PLAN ${SENT_BEFORE_SQL}`, 1, 0, t.clock.now()).map((r) => r.detail).join(" | ");
  expect(plan).toContain("USING COVERING INDEX messages_server_sent_idx (email_server_id=? AND sent_at>? AND sent_at<?)");
});

test("max_connections: returned by the API (default 5), validated 1..50, and caps the open connections", async () => {
  const s = await t.sink({ delayMs: 30 });
  const plain = await t.addServer(s.port, { active: false });
  expect(plain.max_connections).toBe(5);
  for (const bad of [0, 51, "many", 2.5]) {
    const res = await t.server.request("PATCH", `/api/v1/email_servers/${plain.id}`, { body: { max_connections: bad } });
    expect({ bad, status: res.status, errors: res.body.errors }).toEqual({ bad, status: 422, errors: { max_connections: [expect.any(String)] } });
  }
  const patched = await t.server.request("PATCH", `/api/v1/email_servers/${plain.id}`, { body: { max_connections: 50 } });
  expect(patched.body.max_connections).toBe(50);
  await t.server.request("DELETE", `/api/v1/email_servers/${plain.id}`);

  const two = await t.addServer(s.port, { max_connections: 2 });
  expect(two.max_connections).toBe(2);
  expect((await t.server.request("GET", `/api/v1/email_servers/${two.id}`)).body.max_connections).toBe(2);
  for (let i = 0; i < 10; i++) await t.send({ to: `reader${i}@example.com` });
  await t.tick();
  await s.waitFor(10);
  expect(s.peakConnections).toBe(2);
});

test("sends accepted by a server but not yet recorded still count against its limit in the next tick", async () => {
  const limited = await t.sink();
  const slow = await t.sink();
  await t.addServer(limited.port, { priority: 1, emails_per_minute: 2 });
  await t.addServer(slow.port, { priority: 2 });
  for (let i = 0; i < 3; i++) await t.send({ to: `first${i}@example.com` });
  // Two go to the limited server; the third spills to the slow one, which keeps the batch open.
  const release = slow.hold();
  const firstTick = t.tick();
  await eventually(() => limited.accepted === 2 && slow.held === 1);

  // A second tick (another loop) a few seconds later, while the first batch is still unrecorded.
  t.clock.advance(2 * SECOND);
  for (let i = 0; i < 2; i++) await t.send({ to: `second${i}@example.com` });
  const secondTick = t.tick();
  await eventually(() => limited.accepted + slow.held === 5);
  release();
  await Promise.all([firstTick, secondTick]);
  expect({ limited: limited.accepted, slow: slow.accepted }).toEqual({ limited: 2, slow: 3 });
});
