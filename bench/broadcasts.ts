/**
 * Broadcasts bench (in process, real HTTP, the real jobs stepped by hand): seeds N eligible
 * subscribers, then measures
 * - send_broadcast (audience snapshot + quota in one transaction) and the fan-out of the whole
 *   audience into the outbox by the broadcasts job (target ≤ 2 s for 100,000), with the longest
 *   single fan-out transaction (how long the write lock is held at a time);
 * - statistics, timeline and links of that broadcast once it has N sent rows, 30% open events and
 *   10% click events (target ≤ 50 ms each, median of --samples).
 * Delivery to a sink and the transactional latency during a broadcast are bench/delivery.ts's lanes part.
 * Usage: bun bench/broadcasts.ts [--n 100000] [--samples 20] [--json]
 */
import { parseArgs } from "node:util";
import { fakeClock, startTestServer } from "../test/harness";
import { apiCaller, fmt, median, table } from "./lib";

const { values: a } = parseArgs({ options: { n: { type: "string", default: "100000" }, samples: { type: "string", default: "20" }, json: { type: "boolean", default: false } } });
const N = Number(a.n);
const SAMPLES = Number(a.samples);
const log = (msg: string) => console.error(`[broadcasts] ${msg}`);

const clock = fakeClock(Date.now());
const server = await startTestServer({ clock, startJobs: false, env: { MAILROOM_RATE_LIMIT_GENERAL: "0", MAILROOM_RATE_LIMIT_SEND: "0", MAILROOM_LOG_LEVEL: "error" } });
try {
  const raw = server.deps.database.raw;
  const now = clock.now();
  const insert = raw.prepare(
    "INSERT INTO subscribers (channel_id, email, first_name, is_active, source, subscribed_at, tags, custom_data, created_at, updated_at) VALUES (1, ?, ?, 1, 'import', ?, '[]', '{}', ?, ?)",
  );
  raw.exec("BEGIN");
  for (let i = 0; i < N; i++) insert.run(`reader${i}@example${i % 97}.com`, `R${i}`, now, now, now);
  raw.exec("COMMIT");
  raw.exec("ANALYZE");
  log(`seeded ${fmt.int(N)} subscribers`);

  const call = apiCaller(server);

  const created = await call("POST", "/api/v1/broadcasts", { channel: "default", subject: "News for {{ first_name }}", body: '<p>Hi</p><a href="https://ex.com/a">A</a><a href="https://ex.com/b">B</a>', track_opens: true, track_clicks: true });
  const id = created.body.id as number;
  const job = server.running.jobs.get("broadcasts")!;
  const t0 = performance.now();
  const send = await call("POST", `/api/v1/broadcasts/${id}/send_broadcast`);
  let longest = 0;
  for (;;) {
    const s = performance.now();
    const more = await job.tick(clock.now());
    longest = Math.max(longest, performance.now() - s);
    if (!more) break;
  }
  const fanOutMs = performance.now() - t0;
  const enqueued = raw.prepare("SELECT count(*) AS n FROM messages WHERE broadcast_id = ?").get(id) as { n: number };
  log(`fan-out of ${fmt.int(enqueued.n)} recipients: ${fanOutMs.toFixed(0)} ms (send_broadcast ${send.ms.toFixed(0)} ms, longest batch ${longest.toFixed(0)} ms)`);

  // Engagement as delivery and tracking would have recorded it.
  raw.prepare("UPDATE messages SET status = 'sent', sent_at = ?2, next_attempt_at = NULL WHERE broadcast_id = ?1").run(id, now);
  const event = raw.prepare("INSERT INTO events (channel_id, type, created_at, occurred_at, data, subscriber_id, email, broadcast_id) VALUES (1, ?, ?, ?, ?, ?, ?, ?)");
  const rows = raw.prepare("SELECT subscriber_id, recipient_email FROM messages WHERE broadcast_id = ? ORDER BY id").all(id) as { subscriber_id: number; recipient_email: string }[];
  raw.exec("BEGIN");
  rows.forEach((r, i) => {
    const at = now + (i % 86_400) * 1000;
    event.run("email.delivered", at, at, "{}", r.subscriber_id, r.recipient_email, id);
    if (i % 10 < 3) event.run("email.opened", at, at, "{}", r.subscriber_id, r.recipient_email, id);
    if (i % 10 === 0) event.run("email.clicked", at, at, JSON.stringify({ url: i % 20 ? "https://ex.com/a" : "https://ex.com/b" }), r.subscriber_id, r.recipient_email, id);
  });
  raw.exec("COMMIT");
  raw.exec("ANALYZE");
  raw.prepare("UPDATE broadcasts SET status = 'sent' WHERE id = ?").run(id);

  const sample = async (path: string) => {
    for (let i = 0; i < 3; i++) await call("GET", path);
    const xs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) xs.push((await call("GET", path)).ms);
    return median(xs);
  };
  const results = {
    fanout_ms: fanOutMs,
    longest_batch_ms: longest,
    statistics_ms: await sample(`/api/v1/broadcasts/${id}/statistics`),
    timeline_ms: await sample(`/api/v1/broadcasts/${id}/statistics/timeline?timeframe=24h&metrics=opens,clicks,delivered`),
    links_ms: await sample(`/api/v1/broadcasts/${id}/statistics/links`),
  };
  if (a.json) console.log(JSON.stringify({ n: N, ...results }));
  else
    console.log(
      table([
        ["broadcasts (n = " + fmt.int(N) + ")", "measured", "target"],
        ["fan-out (send_broadcast → all enqueued)", `${results.fanout_ms.toFixed(0)} ms`, "≤ 2000 ms"],
        ["longest fan-out transaction", `${results.longest_batch_ms.toFixed(0)} ms`, "—"],
        ["statistics (median)", `${results.statistics_ms.toFixed(1)} ms`, "≤ 50 ms"],
        ["timeline 24h, 3 metrics (median)", `${results.timeline_ms.toFixed(1)} ms`, "≤ 50 ms"],
        ["links (median)", `${results.links_ms.toFixed(1)} ms`, "≤ 50 ms"],
      ]),
    );
} finally {
  await server.running.delivery.close();
  await server.stop();
}
