/**
 * Priority lanes: a transactional never waits behind a bulk backlog, and the bulk lane is shared
 * fairly between channels — also when most channels have nothing queued.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { createTestChannel } from "../fixtures";
import { eventually } from "../smtp/helpers";
import { defaultChannelId, startOutboxTest, type OutboxTest } from "./helpers";

let t: OutboxTest;
beforeEach(async () => {
  t = await startOutboxTest();
});
afterEach(() => t.stop());

const LEASE_MS = 60_000;
const claim = (priority: number, bulk: number) => t.server.deps.outbox.claim(t.clock.now(), t.clock.now() + LEASE_MS, priority, bulk);
const countBy = <T>(items: T[], key: (item: T) => unknown) => items.reduce((m, i) => m.set(key(i), (m.get(key(i)) ?? 0) + 1), new Map<unknown, number>());

test("behind 5,000 older bulk messages, the next tick sends the transactional first", async () => {
  const s = await t.sink();
  await t.addServer(s.port);
  t.enqueueBulk(defaultChannelId(t), 5_000);
  // The backlog is older: a claim in due order alone would take only bulk rows.
  t.clock.advance(1_000);
  const sent = await t.send();
  await t.tick();
  await s.waitFor(s.accepted);
  expect(s.messages.some((m) => m.envelope.to[0] === "ada@example.com")).toBe(true);
  expect(t.row(sent.id).status).toBe("sent");
  // The same tick took at most one batch of bulk alongside it.
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE kind = 'broadcast' AND status = 'sent'")[0].n).toBeLessThanOrEqual(50);
});

test("a transactional claimed while bulk crowds a slow server's connections goes next, not behind that bulk", async () => {
  const s = await t.sink({ delayMs: 20 });
  await t.addServer(s.port, { max_connections: 2 });
  t.enqueueBulk(defaultChannelId(t), 100);
  // A full bulk batch is on its way to 2 connections that take 20 ms per message.
  const bulkTick = t.tick();
  await eventually(() => s.mailFrom >= 2);
  const sent = await t.send();
  await Promise.all([bulkTick, t.tick()]);
  const got = await s.waitFor(s.accepted);
  const position = got.findIndex((m) => m.parsed.messageId === sent.message_id);
  // Ahead of it: what the connections already carried, not the ~48 bulk messages queued for them.
  expect(position).toBeGreaterThanOrEqual(0);
  expect(position).toBeLessThan(10);
});

test("a claim takes every due priority row before any later priority row, and bulk beside it", () => {
  const channel = defaultChannelId(t);
  t.enqueueBulk(channel, 200);
  t.clock.advance(1_000);
  const ids = t.server.deps.db.transaction(() =>
    t.server.deps.outbox.enqueue(
      Array.from({ length: 3 }, () => ({ channel_id: channel, kind: "transactional" as const, source: "api", status: "queued" as const, recipient_email: "ada@example.com" })),
      t.clock.now(),
    ),
  );
  const claimed = claim(10, 10);
  expect(claimed.filter((m) => m.lane === "priority").map((m) => m.id).sort()).toEqual(ids.map((m) => m.id).sort());
  expect(countBy(claimed, (m) => m.lane).get("bulk")).toBe(10);
  // Leased rows are not claimed twice.
  expect(claim(10, 0)).toEqual([]);
});

test("two channels with bulk backlogs get equal slices of a claim", () => {
  const other = createTestChannel(t.server.deps, "Newsletter");
  t.enqueueBulk(defaultChannelId(t), 500);
  // The second channel's backlog is newer: a claim in due order alone would starve it.
  t.clock.advance(1_000);
  t.enqueueBulk(other.id, 500);
  const claimed = claim(0, 40);
  expect(Object.fromEntries(countBy(claimed, (m) => m.channel_id))).toEqual({ [defaultChannelId(t)]: 20, [other.id]: 20 });
});

test("channels with nothing queued do not shrink the bulk claim of the one that has a backlog", async () => {
  for (let i = 0; i < 30; i++) createTestChannel(t.server.deps, `Quiet ${i}`);
  t.enqueueBulk(defaultChannelId(t), 500);
  expect(claim(0, 50)).toHaveLength(50);
  // The delivery job sees a full batch and asks for another tick at once.
  const s = await t.sink();
  await t.addServer(s.port);
  expect(await t.tick()).toBe(true);
});

test("a tick cut short by a small channel's slice still asks for another tick at once", async () => {
  const s = await t.sink();
  await t.addServer(s.port);
  const other = createTestChannel(t.server.deps, "Newsletter");
  t.enqueueBulk(defaultChannelId(t), 200);
  t.enqueueBulk(other.id, 3);
  // 25 + 3 rows: less than a batch, yet the default channel's backlog is due now.
  expect(await t.tick()).toBe(true);
  while (await t.tick());
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE status = 'queued'")[0].n).toBe(0);
});
