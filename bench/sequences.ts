/**
 * Sequence scheduler bench (in process, real HTTP for the set-up, the real job stepped by hand):
 * N eligible subscribers enrolled in an active sequence `entry → delay 1 day → send_email`, all
 * standing on the delay with due times spread over the same minute; the clock then moves past that
 * minute and the scheduler job is ticked until nothing is due. Measures the time until every
 * send_email step is enqueued in the outbox (target ≤ 10 s for 100,000, docs/benchmarks.md) and the
 * longest single tick (one batch transaction: how long the write lock is held at a time).
 * Usage: bun bench/sequences.ts [--n 100000] [--json]
 */
import { parseArgs } from "node:util";
import { fakeClock, startTestServer } from "../test/harness";
import { apiCaller, fmt, table } from "./lib";

const { values: a } = parseArgs({ options: { n: { type: "string", default: "100000" }, json: { type: "boolean", default: false } } });
const N = Number(a.n);
const log = (msg: string) => console.error(`[sequences] ${msg}`);
const MINUTE = 60_000;
const DAY = 86_400_000;

const clock = fakeClock(Date.now());
const server = await startTestServer({ clock, startJobs: false, env: { MAILROOM_RATE_LIMIT_GENERAL: "0", MAILROOM_LOG_LEVEL: "error" } });
try {
  const api = apiCaller(server);
  const call = async (method: string, path: string, body?: unknown) => (await api(method, path, body)).body;
  const sequence = await call("POST", "/api/v1/sequences", { channel: "default", label: "Bench", active: true });
  const delay = await call("POST", `/api/v1/sequences/${sequence.id}/steps`, { action: "delay", delay: 86_400 });
  const send = await call("POST", `/api/v1/sequences/${sequence.id}/steps`, {
    action: "send_email",
    parent_id: delay.id,
    subject: "Day two, {{ first_name }}",
    body: '<p>Hi {{ first_name }}</p><p><a href="https://ex.com/tips">Tips</a> and <a href="https://ex.com/docs">docs</a></p>',
  });

  const raw = server.deps.database.raw;
  const now = clock.now();
  const subscriber = raw.prepare(
    "INSERT INTO subscribers (channel_id, email, first_name, is_active, source, subscribed_at, tags, custom_data, created_at, updated_at) VALUES (1, ?, ?, 1, 'import', ?, '[]', '{}', ?, ?)",
  );
  const enrollment = raw.prepare(
    `INSERT INTO subscriber_sequences (sequence_id, subscriber_id, channel_id, status, current_step_id, next_trigger_at, started_at, created_at, updated_at)
     VALUES (?1, ?2, 1, 'active', ?3, ?4, ?5, ?5, ?5)`,
  );
  // Everyone enrolled a day ago, within one minute: their delays all end in the same minute.
  raw.exec("BEGIN");
  for (let i = 0; i < N; i++) {
    const id = Number(subscriber.run(`reader${i}@example${i % 97}.com`, `R${i}`, now, now, now).lastInsertRowid);
    enrollment.run(sequence.id, id, delay.id, now + DAY + Math.floor((i / N) * MINUTE), now);
  }
  raw.exec("COMMIT");
  raw.exec("ANALYZE");
  log(`seeded ${fmt.int(N)} subscribers waiting on the delay`);

  clock.set(now + DAY + MINUTE);
  const job = server.running.jobs.get("sequences.scheduler")!;
  const t0 = performance.now();
  let longest = 0;
  let ticks = 0;
  for (;;) {
    const s = performance.now();
    const more = await job.tick(clock.now());
    longest = Math.max(longest, performance.now() - s);
    ticks++;
    if (!more) break;
  }
  const enqueueMs = performance.now() - t0;
  const queued = (raw.prepare("SELECT count(*) AS n FROM messages WHERE sequence_step_id = ?").get(send.id) as { n: number }).n;
  const completed = (raw.prepare("SELECT count(*) AS n FROM subscriber_sequences WHERE status = 'completed'").get() as { n: number }).n;
  if (queued !== N || completed !== N) throw new Error(`expected ${N} queued and completed, got ${queued} queued, ${completed} completed`);
  log(`${fmt.int(queued)} send_email steps enqueued in ${enqueueMs.toFixed(0)} ms (${ticks} ticks, longest ${longest.toFixed(0)} ms)`);

  const results = { enqueue_ms: enqueueMs, per_second: (N / enqueueMs) * 1000, longest_tick_ms: longest, ticks };
  if (a.json) console.log(JSON.stringify({ n: N, ...results }));
  else
    console.log(
      table([
        ["sequences (n = " + fmt.int(N) + " enrollments due in one minute)", "measured", "target"],
        ["every send_email step enqueued", `${results.enqueue_ms.toFixed(0)} ms`, "≤ 10000 ms"],
        ["steps per second", fmt.int(Math.round(results.per_second)), "—"],
        ["longest tick (one batch transaction)", `${results.longest_tick_ms.toFixed(0)} ms`, "—"],
      ]),
    );
} finally {
  await server.running.delivery.close();
  await server.stop();
}
