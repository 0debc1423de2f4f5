/**
 * Events and webhooks of dist/mailroom (issue 15 goals):
 * - dispatch: COUNT events appended at once → all delivered to one local receiver; events/s (≥ 1,000);
 * - whoami p99 while webhooks are being delivered vs idle (≤ 1.5 ×);
 * - GET /events?limit=500 at random cursors in a table of EVENTS events (≤ 20 ms);
 * - GET /reputation over MESSAGES messages spread over 30 days and 5 domains (≤ 100 ms).
 * Events and messages are written straight into the data dir (a second SQLite connection, as the
 * server's own writers would); outcomes are set by UPDATE so the reputation triggers run.
 * Usage: bun bench/webhooks.ts [--count 10000] [--events 1000000] [--messages 1000000] [--json]
 */
import { Database } from "bun:sqlite";
import { parseArgs } from "node:util";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { HOST, MAILROOM_BIN, bunScript, cpuUs, fmt, sleep, startMailroom, table, tmp, wrk } from "./lib";

const { values: a } = parseArgs({
  options: { count: { type: "string", default: "10000" }, events: { type: "string", default: "1000000" }, messages: { type: "string", default: "1000000" }, json: { type: "boolean", default: false } },
});
const COUNT = Number(a.count);
const EVENTS = Number(a.events);
const MESSAGES = Number(a.messages);
const log = (s: string) => process.stderr.write(s + "\n");
const results: Record<string, number> = {};
const percentile = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

const server = await startMailroom(tmp("webhooks"), { MAILROOM_ALLOW_HTTP_WEBHOOKS: "1", MAILROOM_CAPTURE: "0" });
const p = Bun.spawnSync([MAILROOM_BIN, "token", "create", "--name", "bench", "--preset", "all", "--scope", "all", "--json", "--data-dir", server.dataDir!]);
const token = JSON.parse(p.stdout.toString()).token as string;
const base = `http://${HOST}:${server.port}/api/v1`;
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const api = (method: string, path: string, body?: unknown) => fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
for (let i = 0; i < 500 && (await api("GET", "/channels/default")).status !== 200; i++) await sleep(10);
const db = new Database(join(server.dataDir!, "mailroom.db"));
db.run("PRAGMA busy_timeout = 5000");
const channelId = (db.query("SELECT id FROM channels WHERE slug = 'default'").get() as { id: number }).id;

/** Appends `n` email.delivered events (the shape the catalogue writes) in transactions of 10,000. */
function appendEvents(n: number, createdAt = Date.now()) {
  const insert = db.prepare("INSERT INTO events (channel_id, type, created_at, occurred_at, data, email, transactional_id) VALUES (?, 'email.delivered', ?, ?, ?, ?, ?)");
  for (let start = 0; start < n; start += 10_000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + 10_000); i++) {
        const email = `r${i}@example.com`;
        const data = { channel: "default", message_id: `<${i}@bench>`, transactional_id: i, broadcast_id: null, sequence_id: null, sequence_step_id: null, subscriber_id: null, recipient_email: email, subject: `Order ${i}`, smtp_response: "250 ok" };
        insert.run(channelId, createdAt, createdAt, JSON.stringify(data), email, i);
      }
    })();
  }
}

async function waitForCount(stats: () => Promise<{ count: number; lastAt: number }>, n: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats();
    if (s.count >= n || Date.now() > deadline) return s;
    await sleep(20);
  }
}

// ---------------------------------------------------------------- dispatch + whoami
{
  const receiver = await bunScript("webhook-receiver.ts", "/")();
  const stats = async () => (await fetch(`http://${HOST}:${receiver.port}/`)).json() as Promise<{ count: number; firstAt: number; lastAt: number }>;
  const created = await api("POST", "/webhook_endpoints", { channel: "default", webhook_endpoint: { url: `http://${HOST}:${receiver.port}/hook`, event_types: ["email.delivered"] } });
  if (created.status !== 201) throw new Error(`endpoint: ${created.status} ${await created.text()}`);
  await sleep(50);
  log(`dispatch: ${COUNT} events → one receiver …`);
  const t0 = Date.now();
  const [cpu0, mainCpu0] = [cpuUs(server.pid), cpuUs(server.pid, server.pid)];
  appendEvents(COUNT);
  const done = await waitForCount(stats, COUNT, 120_000);
  results.dispatchPerSec = done.count / ((done.lastAt - t0) / 1000);
  // What each webhook costs the server, and how much of it the API's (main) thread pays.
  results.cpuUsPerWebhook = (cpuUs(server.pid) - cpu0) / done.count;
  results.mainThreadCpuUsPerWebhook = (cpuUs(server.pid, server.pid) - mainCpu0) / done.count;
  log("whoami idle vs during dispatch …");
  const o = { threads: 1, connections: 16, seconds: 4, warmupSeconds: 0 };
  const idle = await wrk(`${base}/whoami`, { authorization: `Bearer ${token}` }, 4, o);
  appendEvents(COUNT * 3);
  const before = (await stats()).count;
  const busy = await wrk(`${base}/whoami`, { authorization: `Bearer ${token}` }, 4, o);
  const after = (await stats()).count;
  results.busyDispatchPerSec = (after - before) / o.seconds;
  const stillGoing = after < COUNT * 4;
  await waitForCount(stats, COUNT * 4, 300_000);
  Object.assign(results, { whoamiIdleP99Us: idle.p99Us, whoamiBusyP99Us: busy.p99Us, whoamiIdleRps: idle.rps, whoamiBusyRps: busy.rps, busyOverlapped: stillGoing ? 1 : 0 });
  await api("DELETE", `/webhook_endpoints/${((await created.json()) as { id: number }).id}`);
  await receiver.stop();
}

// ---------------------------------------------------------------- events feed
{
  log(`events: seeding ${EVENTS} …`);
  const have = (db.query("SELECT count(*) AS n FROM events").get() as { n: number }).n;
  appendEvents(Math.max(0, EVENTS - have));
  const maxId = (db.query("SELECT max(id) AS id FROM events").get() as { id: number }).id;
  const times: number[] = [];
  for (let i = 0; i < 60; i++) {
    const after = Buffer.from(String(Math.floor(Math.random() * (maxId - 500)))).toString("base64url");
    const t = performance.now();
    const res = await api("GET", `/events?limit=500&after=${after}`);
    const body = (await res.json()) as { data: unknown[] };
    times.push(performance.now() - t);
    if (body.data.length !== 500) throw new Error(`events page: ${body.data.length} rows`);
  }
  Object.assign(results, { eventsPageP50Ms: percentile(times.slice(10), 50), eventsPageP99Ms: percentile(times.slice(10), 99) });
}

// ---------------------------------------------------------------- reputation
{
  log(`reputation: seeding ${MESSAGES} messages over 30 days, 5 domains …`);
  const insert = db.prepare(
    "INSERT INTO messages (channel_id, kind, lane, source, status, recipient_email, message_id, from_email, queue_at, created_at, updated_at) VALUES (?, 'broadcast', 'bulk', 'broadcast', 'queued', ?, ?, ?, ?, ?, ?)",
  );
  const now = Date.now();
  for (let start = 0; start < MESSAGES; start += 20_000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(MESSAGES, start + 20_000); i++) {
        const at = now - (i % 30) * 86_400_000;
        insert.run(channelId, `m${i}@example.org`, `<m${i}@bench>`, `news@d${i % 5}.example.com`, at, at, at);
      }
    })();
  }
  // Outcomes through UPDATE, as delivery records them (the triggers keep the counts).
  db.run("UPDATE messages SET status = 'sent', sent_at = created_at WHERE message_id LIKE '<m%' AND id % 50 <> 0");
  db.run("UPDATE messages SET status = 'bounced' WHERE message_id LIKE '<m%' AND id % 50 = 0");
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    const res = await api("GET", "/reputation?days=90");
    await res.json();
    times.push(performance.now() - t);
  }
  Object.assign(results, { reputationP50Ms: percentile(times.slice(5), 50), reputationP99Ms: percentile(times.slice(5), 99) });
}

db.close();
await server.stop();
rmSync(server.dataDir!, { recursive: true, force: true });

if (a.json) console.log(JSON.stringify(results));
else {
  const ratio = results.whoamiBusyP99Us / results.whoamiIdleP99Us;
  console.log(
    table([
      ["measure", "result", "goal"],
      [`${COUNT} events dispatched to one receiver`, `${Math.round(results.dispatchPerSec)} events/s`, "≥ 1,000/s"],
      ["server CPU per webhook: all threads / the API's thread", `${Math.round(results.cpuUsPerWebhook)} / ${Math.round(results.mainThreadCpuUsPerWebhook)} µs`, ""],
      ["webhooks delivered during that whoami run (paced: the API is busy)", `${Math.round(results.busyDispatchPerSec)} events/s`, ""],
      ["whoami p99 during dispatch / idle", `${fmt.us(results.whoamiBusyP99Us)} / ${fmt.us(results.whoamiIdleP99Us)} = ${ratio.toFixed(2)} × (throughput ${(results.whoamiBusyRps / results.whoamiIdleRps).toFixed(2)} × idle)${results.busyOverlapped ? "" : " (dispatch ended early)"}`, "≤ 1.5 ×"],
      [`GET /events limit=500 of ${EVENTS.toLocaleString("en")} (p50 / p99)`, `${results.eventsPageP50Ms.toFixed(1)} / ${results.eventsPageP99Ms.toFixed(1)} ms`, "≤ 20 ms"],
      [`GET /reputation over ${MESSAGES.toLocaleString("en")} messages (p50 / p99)`, `${results.reputationP50Ms.toFixed(1)} / ${results.reputationP99Ms.toFixed(1)} ms`, "≤ 100 ms"],
    ]),
  );
}
