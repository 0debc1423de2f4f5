/**
 * A full data disk (a real 4 MiB tmpfs filled with a file): API writes answer 503 with Retry-After
 * and say why, /healthz reports the database as not writable, reads keep working, and both recover
 * as soon as space returns. Needs mount permission (root); otherwise skipped with the reason.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { fakeClock, startTestServer, type TestServer } from "../harness";
import { mountSmallDisk } from "../small-disk";

const disk = mountSmallDisk("mailroom-disk-full-");
const dataDir = disk.dir;
const mountRefused = disk.refused;

const clock = fakeClock();
let server: TestServer;
beforeAll(async () => {
  if (mountRefused) return;
  server = await startTestServer({ dataDir, clock });
});
afterAll(async () => {
  await server?.stop();
  disk.remove();
});

const STORAGE_REFUSAL = {
  error: "Server error (503): storage unavailable",
  message: "The database cannot be written (disk full or read-only); retry later",
};
const template = (label: string) => ({ channel: "default", label, subject: "s", body: "b".repeat(20_000) });

test.skipIf(mountRefused !== null)(
  `a full disk: writes → 503 + Retry-After, /healthz not writable, both recover when space returns${mountRefused ? ` (skipped: cannot mount a tmpfs: ${mountRefused})` : ""}`,
  async () => {
    // Every later commit must grow the WAL, so none can slip into space the WAL already holds.
    server.sql("PRAGMA wal_checkpoint(TRUNCATE)");
    disk.fill();

    clock.advance(1000);
    const probed = await server.request("GET", "/healthz", { token: null });
    expect(probed.status).toBe(503);
    expect(probed.headers.get("retry-after")).toBe("10");
    expect(probed.body).toEqual({ status: "error", version: expect.any(String), db: "not_writable" });

    for (const [path, body] of [
      ["/api/v1/templates", template("while full")],
      ["/api/v1/channels", { name: "While Full" }],
      ["/api/v1/subscribers", { channel: "default", email: "full@example.com" }],
    ] as const) {
      const res = await server.request("POST", path, { body });
      expect({ path, status: res.status, retryAfter: res.headers.get("retry-after"), body: res.body }).toEqual({
        path,
        status: 503,
        retryAfter: "10",
        body: STORAGE_REFUSAL,
      });
    }
    expect((await server.request("GET", "/api/v1/channels")).status).toBe(200);
    // One log line for the outage, with the SQLite code; the failing requests do not repeat it.
    expect(server.log.text().match(/"db\.not_writable"[^\n]*"code":"SQLITE_FULL"/g)).toHaveLength(1);

    disk.free();
    const created = await server.request("POST", "/api/v1/templates", { body: template("after space returned") });
    expect(created.status).toBe(201);
    clock.advance(1000);
    const healthy = await server.request("GET", "/healthz", { token: null });
    expect([healthy.status, healthy.body.db, healthy.headers.get("retry-after")]).toEqual([200, "ok", null]);
    expect(server.log.text()).toContain('"db.writable"');
  },
);
