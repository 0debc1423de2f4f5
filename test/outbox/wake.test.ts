/**
 * Mail waiting for a route (no active server, a server's limit, capture down) becomes due at once
 * when a route appears: a server activated over HTTP, a server added, a successful
 * test_connection, capture started — and mail of other channels is left alone.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { NO_ROUTE_RECHECK_MS } from "@/outbox/destinations";
import { createTestChannel } from "../fixtures";
import { startTestServer, tempDir } from "../harness";
import { startOutboxTest, type OutboxTest } from "./helpers";

let t: OutboxTest;
beforeEach(async () => {
  t = await startOutboxTest();
});
afterEach(() => t.stop());

/** Sends one transactional, ticks, and checks it now waits for `reason` without an attempt. */
async function queuedAndWaiting(reason: string, body: Record<string, unknown> = {}) {
  const sent = await t.send(body);
  await t.tick();
  expect(t.row(sent.id)).toMatchObject({ status: "queued", attempts: 0, waiting_for: reason, lease_expires_at: null });
  return sent;
}

/** Due now; `waiting_for` keeps the last reason until the next attempt decides (limits.test.ts: one `email.send_delayed`). */
function expectDueNow(id: number) {
  expect(t.row(id)).toMatchObject({ status: "queued", next_attempt_at: t.clock.now() });
}

test("mail held by the channel's only (inactive) server is due the moment the server is activated", async () => {
  const s = await t.sink();
  const srv = await t.addServer(s.port, { active: false });
  const sent = await queuedAndWaiting("no_active_server");
  expect(t.row(sent.id).next_attempt_at).toBe(t.clock.now() + NO_ROUTE_RECHECK_MS);
  t.clock.advance(5_000);
  // The composition root's hook: in production it wakes the delivery job (thread).
  let woken = 0;
  t.server.deps.outbox.notify = () => void woken++;

  const res = await t.server.request("PATCH", `/api/v1/email_servers/${srv.id}`, { body: { active: true } });
  expect(res.status).toBe(200);
  expect(res.body.active).toBe(true);
  expectDueNow(sent.id);
  expect(woken).toBe(1);
  await t.tick();
  await s.waitFor(1);
  expect(t.row(sent.id).status).toBe("sent");
});

test("mail no route can take is stored already waiting: the delivery job is not woken and does not claim and rewrite it", async () => {
  const s = await t.sink();
  const srv = await t.addServer(s.port, { active: false });
  let woken = 0;
  t.server.deps.outbox.notify = () => void woken++;
  const sent = await t.send();
  expect(woken).toBe(0);
  const stored = t.row(sent.id);
  expect(stored).toMatchObject({ status: "queued", attempts: 0, waiting_for: "no_active_server", next_attempt_at: t.clock.now() + NO_ROUTE_RECHECK_MS, lease_expires_at: null });
  expect(await t.server.running.delivery.tick(t.clock.now())).toBe(false);
  expect(t.row(sent.id)).toEqual(stored);

  // The outbox's view of the routes changes with the server at once (no stale list): sent now, not waiting.
  expect((await t.server.request("PATCH", `/api/v1/email_servers/${srv.id}`, { body: { active: true } })).status).toBe(200);
  woken = 0;
  const next = await t.send();
  expect(t.row(next.id)).toMatchObject({ waiting_for: null, next_attempt_at: t.clock.now() });
  expect(woken).toBe(1);
  await t.tick();
  await s.waitFor(2);
  expect([t.row(sent.id).status, t.row(next.id).status]).toEqual(["sent", "sent"]);
});

test("a successful test_connection activates the server and wakes the waiting mail", async () => {
  const s = await t.sink();
  const srv = await t.addServer(s.port, { active: false });
  const sent = await queuedAndWaiting("no_active_server");
  t.clock.advance(5_000);

  const res = await t.server.request("POST", `/api/v1/email_servers/${srv.id}/test_connection`);
  expect(res.body).toEqual({ success: true, message: "Connection successful" });
  expectDueNow(sent.id);
  await t.tick();
  await s.waitFor(1);
  expect(t.row(sent.id).status).toBe("sent");
});

test("a failed test_connection wakes nothing", async () => {
  const s = await t.sink();
  const srv = await t.addServer(s.port, { active: false });
  const sent = await queuedAndWaiting("no_active_server");
  const waitingUntil = t.row(sent.id).next_attempt_at;
  await s.stop();
  const res = await t.server.request("POST", `/api/v1/email_servers/${srv.id}/test_connection`);
  expect(res.body.success).toBe(false);
  expect(t.row(sent.id)).toMatchObject({ waiting_for: "no_active_server", next_attempt_at: waitingUntil });
});

test("adding a server to a channel whose mail waits on a limit sends it through the new server now", async () => {
  const limited = await t.sink();
  await t.addServer(limited.port, { emails_per_minute: 1 });
  await t.send();
  await t.tick();
  await limited.waitFor(1);
  const second = await queuedAndWaiting("rate_limited");
  expect(t.row(second.id).next_attempt_at).toBeGreaterThan(t.clock.now());

  const spare = await t.sink();
  const added = await t.addServer(spare.port, { priority: 10 });
  expectDueNow(second.id);
  await t.tick();
  await spare.waitFor(1);
  expect(t.row(second.id)).toMatchObject({ status: "sent", email_server_id: added.id });
  expect(limited.messages).toHaveLength(1);
});

test("activating a server on another channel leaves this channel's waiting mail alone", async () => {
  const s = await t.sink();
  await t.addServer(s.port, { active: false });
  const sent = await queuedAndWaiting("no_active_server");
  const waitingUntil = t.row(sent.id).next_attempt_at;
  createTestChannel(t.server.deps, "Other");
  const other = await t.addServer(s.port, { active: false }, "other");
  await t.server.request("PATCH", `/api/v1/email_servers/${other.id}`, { body: { active: true } });
  expect(t.row(sent.id)).toMatchObject({ waiting_for: "no_active_server", next_attempt_at: waitingUntil });
});

test("mail that waited for capture (down when the process stopped) is due when capture starts", async () => {
  const dataDir = tempDir();
  const before = await startTestServer({ dataDir, clock: t.clock, startJobs: false });
  const sent = (await before.request("POST", "/api/v1/transactionals", { token: before.defaultToken, body: { to: "ada@example.com", subject: "s", body: "b" } })).body;
  // As a delivery job would have left it with capture unavailable.
  before.sql("UPDATE messages SET waiting_for = 'capture_unavailable', next_attempt_at = ? WHERE id = ?", t.clock.now() + NO_ROUTE_RECHECK_MS, sent.id);
  await before.stop();

  t.clock.advance(1_000);
  const after = await startTestServer({ dataDir, clock: t.clock, startJobs: false });
  try {
    expect(after.sql("SELECT waiting_for, next_attempt_at FROM messages WHERE id = ?", sent.id)).toEqual([{ waiting_for: "capture_unavailable", next_attempt_at: t.clock.now() }]);
  } finally {
    await after.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
