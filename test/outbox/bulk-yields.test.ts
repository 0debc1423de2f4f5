/**
 * Bulk mail yields to a busy API (jobs/api-load.ts): while the API thread's load reads busy, the
 * delivery job claims bulk mail in small batches and the sender sends it one message at a time
 * within its pacer's share; a transactional in the same batch does not wait for it. Real sink, real sender; the load is written into the shared cell as
 * the API thread's sampler would.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { ApiLoad, Pacer } from "@/jobs/api-load";
import { DeliveryJob } from "@/outbox/delivery-job";
import { MessageSender } from "@/outbox/sender";
import { defaultChannelId, startOutboxTest, type OutboxTest } from "./helpers";

let t: OutboxTest;
beforeEach(async () => {
  t = await startOutboxTest();
});
afterEach(() => t.stop());

const WINDOW_MS = 500;

async function sendBatch(apiPermille: number) {
  const s = await t.sink();
  await t.addServer(s.port);
  const load = new ApiLoad();
  Atomics.store(new Int32Array(load.buffer), 0, apiPermille);
  // A share so small that each window lets one bulk message through.
  const sender = new MessageSender(t.server.deps, t.server.deps.transport, new Pacer(load, { share: 0.00001, windowMs: WINDOW_MS }));
  const bulk = t.enqueueBulk(defaultChannelId(t), 5);
  const transactional = await t.send({ to: "urgent@example.com" });
  const job = new DeliveryJob(t.server.deps, { sender });
  const started = performance.now();
  await job.tick(t.clock.now());
  const tookMs = performance.now() - started;
  await s.waitFor(6);
  await sender.close();
  return { tookMs, arrived: s.messages.map((m) => m.envelope.to[0]), bulk, transactional };
}

test("while the API is busy, bulk messages wait for the pacer's windows and the transactional goes first", async () => {
  const { tookMs, arrived, bulk, transactional } = await sendBatch(1000);
  expect(tookMs).toBeGreaterThanOrEqual(WINDOW_MS);
  expect(arrived[0]).toBe("urgent@example.com");
  expect(t.row(transactional.id).status).toBe("sent");
  for (const id of bulk) expect(t.row(id).status).toBe("sent");
});

test("while the API is not busy, the batch goes at once", async () => {
  const { tookMs, bulk } = await sendBatch(0);
  expect(tookMs).toBeLessThan(WINDOW_MS);
  for (const id of bulk) expect(t.row(id).status).toBe("sent");
});

test("while the API is busy a tick claims 5 bulk messages (their outcomes are written on the API's thread), transactionals as many as usual", async () => {
  const s = await t.sink();
  await t.addServer(s.port);
  let busy = true;
  const job = new DeliveryJob(t.server.deps, { apiBusy: () => busy });
  const bulk = t.enqueueBulk(defaultChannelId(t), 20);
  const transactionals = [];
  for (let i = 0; i < 8; i++) transactionals.push(await t.send({ to: `t${i}@example.com` }));
  expect(await job.tick(t.clock.now())).toBe(true);
  const sent = (ids: number[]) => ids.filter((id) => t.row(id).status === "sent").length;
  expect(sent(bulk)).toBe(5);
  expect(sent(transactionals.map((m) => m.id))).toBe(8);
  busy = false;
  await job.tick(t.clock.now());
  expect(sent(bulk)).toBe(20);
  await job.close();
});

test("a batch claimed before the API became busy is recorded a few outcomes per transaction, the API's requests let in between", async () => {
  const s = await t.sink();
  await t.addServer(s.port);
  // Not busy when the batch is claimed, busy by the time its outcomes are recorded.
  let asked = 0;
  const job = new DeliveryJob(t.server.deps, { apiBusy: () => asked++ > 0 });
  const bulk = t.enqueueBulk(defaultChannelId(t), 20);
  const sent = () => bulk.filter((id) => t.row(id).status === "sent").length;
  // What another task on this thread (a request) sees each time it gets a turn while the tick runs.
  const seen = new Set<number>();
  let ticking = true;
  const watch = () => {
    if (!ticking) return;
    seen.add(sent());
    setImmediate(watch);
  };
  watch();
  await job.tick(t.clock.now());
  ticking = false;
  expect(sent()).toBe(20);
  expect([...seen].filter((n) => n > 0 && n < 20).sort((a, b) => a - b)).toEqual([5, 10, 15]);
  await job.close();
});
