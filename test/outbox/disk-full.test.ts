/**
 * A data disk that fills while messages are at the next hop (a real 4 MiB tmpfs filled with a
 * file; the sink holds its DATA replies until the disk is full): the outcomes cannot be written, so
 * the job keeps them, its ticks fail and claim nothing new, and the sink has each message exactly
 * once; when space returns the next tick records them as sent, still without sending anything
 * twice. Needs mount permission (root); otherwise skipped with the reason.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mountSmallDisk } from "../small-disk";
import { eventually } from "../smtp/helpers";
import { startOutboxTest, type OutboxTest } from "./helpers";

const disk = mountSmallDisk("mailroom-delivery-disk-full-");
const dataDir = disk.dir;
const mountRefused = disk.refused;

let t: OutboxTest;
beforeAll(async () => {
  if (mountRefused) return;
  t = await startOutboxTest({ dataDir });
});
afterAll(async () => {
  await t?.stop();
  disk.remove();
});

test.skipIf(mountRefused !== null)(
  `sent while the disk fills: kept in memory, never sent twice, recorded once space returns${mountRefused ? ` (skipped: cannot mount a tmpfs: ${mountRefused})` : ""}`,
  async () => {
    const s = await t.sink();
    await t.addServer(s.port);
    const sent = [await t.send(), await t.send({ to: "grace@example.com" }), await t.send({ to: "alan@example.com" })];
    // Queued before the disk fills, due only after the first tick: it must wait for the recovery.
    const later = await t.send({ to: "later@example.com" });
    t.server.sql("UPDATE messages SET next_attempt_at = ? WHERE id = ?", t.clock.now() + 1000, later.id);
    // Every later commit must grow the WAL, so none can slip into space the WAL already holds.
    t.server.sql("PRAGMA wal_checkpoint(TRUNCATE)");

    const release = s.hold();
    const ticking = t.tick();
    await eventually(() => s.held === 3);
    disk.fill();
    release();
    await expect(ticking).rejects.toThrow();
    const failures = t.server.log.lines().filter((l) => l.event === "delivery.record_failed");
    expect(failures.map((l) => [l.count, l.code])).toEqual([[3, "SQLITE_FULL"]]);
    expect(s.accepted).toBe(3);

    // Still full: the kept outcomes fail again, nothing new is claimed or sent.
    t.clock.advance(1000);
    await expect(t.tick()).rejects.toThrow();
    expect(s.mailFrom).toBe(3);
    expect(t.row(later.id).lease_expires_at).toBeNull();
    for (const m of sent) expect(t.row(m.id)).toMatchObject({ status: "queued", attempts: 0 });

    disk.free();
    await t.tick();
    await s.waitFor(4);
    for (const m of [...sent, later]) {
      expect(t.row(m.id)).toMatchObject({ status: "sent", attempts: 1, lease_expires_at: null });
      expect(t.eventTypes(m.id)).toEqual(["email.sent", "email.delivered"]);
    }
    const ids = s.messages.map((m) => m.parsed.messageId).sort();
    expect(ids).toEqual([...sent, later].map((m) => m.message_id).sort());
    expect(s.accepted).toBe(4);
  },
);
