/**
 * "Try later" replies from a real smtp-server sink: a 421 (or a 451/454 asking to slow down) pauses
 * the server without counting an attempt, mail waits for the back-off, the back-off doubles on
 * repeat and resets on success. Greylisting (451 4.7.1) stays an ordinary temporary failure.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Stage } from "../smtp-sink";
import { startOutboxTest, type OutboxTest } from "./helpers";

const SECOND = 1000;
let t: OutboxTest;
beforeEach(async () => {
  t = await startOutboxTest();
});
afterEach(() => t.stop());

const TRY_LATER = "4.7.0 Try again later";

function expectThrottled(id: number, until: number) {
  expect(t.row(id)).toMatchObject({ status: "queued", attempts: 0, waiting_for: "throttled", next_attempt_at: until, lease_expires_at: null });
  expect(t.eventTypes(id)).toEqual([]);
}

test.each<[string, Stage, number, string]>([
  ["421 at MAIL FROM", "mail", 421, TRY_LATER],
  ["421 at RCPT TO", "rcpt", 421, TRY_LATER],
  ["451 asking to slow down", "rcpt", 451, "4.7.1 Rate limit exceeded, slow down"],
  ["454 too many messages", "mail", 454, "4.7.0 Too many messages, try later"],
])("%s: no attempt counted, the message waits for the back-off and the server shows why", async (_name, at, code, message) => {
  const s = await t.sink();
  const srv = await t.addServer(s.port);
  s.refuse({ at, code, message, times: 1 });
  const sent = await t.send();
  await t.tick();
  expectThrottled(sent.id, t.clock.now() + 5 * SECOND);
  expect(t.row(sent.id).smtp_response).toContain(message);
  const shown = await t.server.request("GET", `/api/v1/email_servers/${srv.id}`);
  expect(shown.body.last_error).toContain(message);
  expect(t.server.log.lines().filter((l) => l.event === "delivery.server_throttled").map((l) => l.email_server_id)).toEqual([srv.id]);

  t.clock.advance(5 * SECOND);
  await t.tick();
  await s.waitFor(1);
  expect(t.row(sent.id)).toMatchObject({ status: "sent", attempts: 1, waiting_for: null });
  expect(t.eventTypes(sent.id)).toEqual(["email.sent", "email.delivered"]);
  expect((await t.server.request("GET", `/api/v1/email_servers/${srv.id}`)).body.last_error).toBeNull();
});

test("while paused the server gets no traffic; the back-off doubles on repeat (once per round) and a success resets it", async () => {
  const s = await t.sink();
  await t.addServer(s.port);
  const start = t.clock.now();
  s.refuse({ at: "mail", code: 421, message: TRY_LATER, times: 1 });
  const first = await t.send();
  await t.tick();
  expectThrottled(first.id, start + 5 * SECOND);
  expect(s.mailFrom).toBe(1);

  // Paused: a new message waits for the same moment without touching the sink.
  t.clock.advance(SECOND);
  const second = await t.send();
  await t.tick();
  expectThrottled(second.id, start + 5 * SECOND);
  expect(s.mailFrom).toBe(1);

  // Both go after the pause and both hear 421 again: one more doubling (10 s), not one per reply.
  t.clock.set(start + 5 * SECOND);
  s.refuse({ at: "mail", code: 421, message: TRY_LATER });
  await t.tick();
  expect(s.mailFrom).toBe(3);
  expectThrottled(first.id, t.clock.now() + 10 * SECOND);
  expectThrottled(second.id, t.clock.now() + 10 * SECOND);

  t.clock.advance(9 * SECOND);
  expect(await t.tick()).toBe(false);
  t.clock.advance(SECOND);
  s.refusals.length = 0;
  await t.tick();
  await s.waitFor(2);
  for (const id of [first.id, second.id]) expect(t.row(id)).toMatchObject({ status: "sent", attempts: 1 });

  // The success reset the back-off: the next 421 pauses for 5 s again.
  s.refuse({ at: "mail", code: 421, message: TRY_LATER, times: 1 });
  const third = await t.send();
  await t.tick();
  expectThrottled(third.id, t.clock.now() + 5 * SECOND);
});

test("a throttled server fails over to the next one while it is paused", async () => {
  const busy = await t.sink();
  const spare = await t.sink();
  await t.addServer(busy.port, { priority: 1 });
  const other = await t.addServer(spare.port, { priority: 2 });
  busy.refuse({ at: "mail", code: 421, message: TRY_LATER, times: 1 });
  const first = await t.send();
  await t.tick();
  expectThrottled(first.id, t.clock.now() + 5 * SECOND);
  // The message waits for the pause it met; mail arriving during it takes the other server.
  const second = await t.send();
  await t.tick();
  await spare.waitFor(1);
  expect(t.row(second.id)).toMatchObject({ status: "sent", email_server_id: other.id });
  expect(busy.mailFrom).toBe(1);
});

test.each([
  ["Postgrey", "4.7.1 Greylisted, see http://postgrey.schweikert.ch/help/example.com.html"],
  ["come back later", "4.7.1 Greylisting in action, please come back later"],
])("451 greylisting (%s) is an ordinary temporary failure: attempt counted, email.delivery_delayed, no pause", async (_name, message) => {
  const s = await t.sink();
  await t.addServer(s.port);
  s.refuse({ at: "rcpt", code: 451, message, times: 1 });
  const sent = await t.send();
  await t.tick();
  expect(t.row(sent.id)).toMatchObject({ status: "sending", attempts: 1, waiting_for: null, next_attempt_at: t.clock.now() + 60 * SECOND });
  expect(t.eventTypes(sent.id)).toEqual(["email.delivery_delayed"]);
  // The server was not paused: the next message goes straight through.
  const next = await t.send({ to: "grace@example.com" });
  await t.tick();
  await s.waitFor(1);
  expect(t.row(next.id).status).toBe("sent");
});

test("a throttled server gets fewer connections: halved once per round, given back one by one as mail is accepted", async () => {
  const s = await t.sink({ delayMs: 30 });
  await t.addServer(s.port, { max_connections: 4 });
  const sendMany = async (n: number) => {
    for (let i = 0; i < n; i++) await t.send({ to: `r${i}@example.com` });
    const before = s.messages.length;
    await t.tick();
    await s.waitFor(before + n);
  };
  await sendMany(8);
  expect(s.peakInData).toBe(4);

  // Two replies of the same round halve once (4 → 2), not twice.
  s.refuse({ at: "mail", code: 421, message: TRY_LATER, times: 2 });
  await t.send();
  await t.send({ to: "grace@example.com" });
  await t.tick();
  t.clock.advance(5 * SECOND);
  await t.tick();
  await s.waitFor(10);
  s.reset();
  await sendMany(8);
  expect(s.peakInData).toBe(2);

  // Every 2 × connections accepted messages give one back, up to max_connections.
  s.reset();
  await sendMany(24);
  expect(s.peakInData).toBe(4);
});
