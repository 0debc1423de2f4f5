/**
 * Enqueues COUNT messages of KIND (default broadcast) for the default channel of DATA_DIR through the
 * outbox's enqueue-many, BATCH rows per transaction (as a fan-out does), and prints {"ms": …}.
 * BODY=full stores a 2 KB HTML body per row; BODY=short (default) a short one, the shape of a fan-out
 * whose content is stored once. Works on a fresh data dir (SEED=1 seeds it) or on the data dir of a
 * running server (a second connection).
 */
import { buildDeps, firstRun, openDataDir } from "../../src/boot";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/lib/log";
import { systemClock } from "../../src/lib/time";
import type { OutboxInput } from "../../src/outbox/outbox";
import { benchHtml } from "../payload";

const count = Number(process.env.COUNT ?? 100_000);
const batch = Number(process.env.BATCH ?? 1000);
const config = loadConfig({ MAILROOM_DATA_DIR: process.env.DATA_DIR!, MAILROOM_ADMIN_PASSWORD: "bench-password-1234" });
const log = createLogger(() => {});
const { database } = openDataDir(config, log);
const deps = buildDeps(config, database, log, systemClock);
// A fresh data dir is seeded here; a running server seeds its own (right after it starts listening).
if (process.env.SEED === "1") await firstRun(deps);
let channel = deps.auth.cache.channelBySlug("default");
for (let i = 0; !channel && i < 500; i++) {
  await Bun.sleep(10);
  deps.auth.cache.invalidate();
  channel = deps.auth.cache.channelBySlug("default");
}
if (!channel) throw new Error("no default channel in " + config.dataDir);
const kind = (process.env.KIND ?? "broadcast") as OutboxInput["kind"];
const body = process.env.BODY === "full" ? benchHtml(0) : "<p>Hello {{ subscriber.email }}</p>";
const t0 = performance.now();
for (let start = 0; start < count; start += batch) {
  const rows: OutboxInput[] = [];
  for (let i = start; i < Math.min(count, start + batch); i++) {
    rows.push({ channel_id: channel!.id, kind, source: "api", status: "queued", recipient_email: `bulk${i}@example.com`, subject: `bulk ${i}`, body });
  }
  deps.db.transaction(() => deps.outbox.enqueue(rows, systemClock.now()));
}
console.log(JSON.stringify({ ms: performance.now() - t0 }));
database.close();
