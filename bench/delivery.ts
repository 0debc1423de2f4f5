/**
 * The send path of dist/mailroom against its baselines, same machine, same run:
 * - accept: POST /api/v1/transactionals from 32 connections (wrk + Lua, distinct recipients) vs
 *   single-row INSERT transactions of the same row size in bun:sqlite (WAL, NORMAL);
 * - delivery: 10,000 queued messages to an smtp-server sink vs a raw nodemailer pool (same
 *   connection count, same sink); end to end (first POST → last message at the sink);
 * - 100,000-message enqueue; transactional latency behind a 100,000 bulk backlog at a slow sink;
 * - whoami p99 while delivery runs at full speed vs idle (medians of 3 runs each); RSS while draining
 *   100,000 vs the RSS of a raw nodemailer pool sending the same 100,000 (the floor of sending at all).
 * Usage: bun bench/delivery.ts [--count 10000] [--backlog 100000] [--seconds 10] [--only SECTIONS] [--json]
 */
import { Database } from "bun:sqlite";
import { parseArgs } from "node:util";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST, MAILROOM_BIN, ROOT, cpuUs, fmt, freePort, median, rssMb, runRawPool, sleep, spawnServer, startMailroom, table, tmp, waitQuiet, wrk, type Running } from "./lib";
import { benchHtml } from "./payload";
import { insertBaseline } from "./insert-baseline";

const { values: a } = parseArgs({
  options: {
    count: { type: "string", default: "10000" },
    backlog: { type: "string", default: "100000" },
    seconds: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
    only: { type: "string" },
  },
});
/** `--only accept,lanes` runs just those sections (accept, delivery, enqueue, lanes, busy). */
const want = (section: string) => !a.only || a.only.split(",").includes(section);
const COUNT = Number(a.count);
const BACKLOG = Number(a.backlog);
const SECONDS = Number(a.seconds);
const CONNECTIONS = 5;
const log = (s: string) => process.stderr.write(s + "\n");
const results: Record<string, number> = {};
/** The whoami p99 of each run (busy section), for the table. */
let whoamiRuns = "";

interface Sink extends Running {
  smtpPort: number;
  stats(): Promise<{ count: number; firstAt: number; lastAt: number; arrivals: Record<string, number> }>;
}

async function startSink(delayMs = 0): Promise<Sink> {
  const [smtpPort, statsPort] = [await freePort(), await freePort()];
  const r = spawnServer([process.execPath, join(ROOT, "bench/servers/smtp-sink.ts")], { PORT: String(smtpPort), STATS_PORT: String(statsPort), DELAY_MS: String(delayMs) }, statsPort);
  const stats = async () => (await fetch(`http://${HOST}:${statsPort}/stats`)).json() as ReturnType<Sink["stats"]>;
  for (let i = 0; i < 500; i++) {
    try {
      await stats();
      break;
    } catch {
      await sleep(10);
    }
  }
  return Object.assign(r, { smtpPort, stats });
}

async function waitForCount(sink: Sink, n: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await sink.stats();
    if (s.count >= n || Date.now() > deadline) return s;
    await sleep(20);
  }
}

function cli(dataDir: string, ...args: string[]): string {
  const p = Bun.spawnSync([MAILROOM_BIN, ...args, "--data-dir", dataDir]);
  if (p.exitCode !== 0) throw new Error(`mailroom ${args.join(" ")}: ${p.stderr}`);
  return p.stdout.toString();
}

/** A Mailroom instance with an all-permission token and, optionally, an email server pointing at `sink`. */
async function instance(sink: Sink | null, active: boolean) {
  const server = await startMailroom(tmp("delivery"), { MAILROOM_CAPTURE: "0" });
  const token = JSON.parse(cli(server.dataDir!, "token", "create", "--name", "bench", "--preset", "all", "--scope", "all", "--json")).token as string;
  const base = `http://${HOST}:${server.port}/api/v1`;
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const api = (method: string, path: string, body?: unknown) => fetch(base + path, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
  // /healthz answers before a fresh instance has seeded its default channel: wait for it.
  for (let i = 0; i < 500 && (await fetch(`${base}/channels/default`, { headers: auth })).status !== 200; i++) await sleep(10);
  let serverId = 0;
  if (sink) {
    const created = await api("POST", "/email_servers", { channel: "default", label: "sink", smtp_address: HOST, smtp_port: sink.smtpPort, smtp_enable_starttls_auto: false, active, max_connections: CONNECTIONS });
    serverId = created.id;
  }
  const activate = () => api("PATCH", `/email_servers/${serverId}`, { active: true });
  const enqueue = (count: number, kind: string) => {
    const p = Bun.spawnSync([process.execPath, join(ROOT, "bench/servers/enqueue.ts")], { env: { ...process.env, DATA_DIR: server.dataDir!, COUNT: String(count), KIND: kind } });
    if (p.exitCode !== 0) throw new Error(`enqueue: ${p.stderr}`);
  };
  const stop = async () => {
    await server.stop();
    rmSync(server.dataDir!, { recursive: true, force: true });
  };
  return { server, base, auth, token, api, activate, enqueue, stop };
}

/** POSTs `n` transactionals with `concurrency` clients; returns the time of the first POST. */
async function postMany(base: string, auth: Record<string, string>, n: number, concurrency: number): Promise<number> {
  let next = 0;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await fetch(`${base}/transactionals`, { method: "POST", headers: auth, body: JSON.stringify({ to: `r${i}@example.com`, subject: `Order ${i}`, body: benchHtml(i) }) });
        if (res.status !== 201) throw new Error(`POST → ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  return t0;
}

const percentile = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

// ---------------------------------------------------------------- accept
if (want("accept")) {
  log("accept: single-row INSERT baseline …");
  results.insertPerSec = insertBaseline(20_000, benchHtml(0));
  log(`accept: POST /api/v1/transactionals, wrk -c32 ${SECONDS}s …`);
  const mr = await instance(null, false);
  const script = join(tmp("lua"), "post.lua");
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${mr.token}"\n` +
      `local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, nil, '{"to":"r' .. n .. '@example.com","subject":"Order ' .. n .. '","body":${JSON.stringify(benchHtml(0))}}')\nend\n`,
  );
  const o = { threads: 1, connections: 32, seconds: SECONDS, warmupSeconds: 0 };
  await wrk(`${mr.base}/transactionals`, {}, 2, o, script); // warm-up: JIT and caches, not measured
  // The main thread (tid = pid) runs every request: its CPU per request is the accept ceiling.
  const pid = mr.server.pid;
  const [cpu0, main0] = [cpuUs(pid), cpuUs(pid, pid)];
  const r = await wrk(`${mr.base}/transactionals`, {}, SECONDS, o, script);
  const [cpuPerRequest, mainPerRequest] = [(cpuUs(pid) - cpu0) / r.requests, (cpuUs(pid, pid) - main0) / r.requests];
  Object.assign(results, { acceptPerSec: r.rps, acceptP50Us: r.p50Us, acceptP99Us: r.p99Us, acceptErrors: r.errors, acceptCpuUs: cpuPerRequest, acceptMainCpuUs: mainPerRequest, acceptWrkCpuPct: r.wrkCpuPct });
  await mr.stop();
}

// ---------------------------------------------------------------- delivery and end to end
if (want("delivery")) {
  const sink = await startSink();
  log(`delivery: raw nodemailer pool, ${COUNT} messages, ${CONNECTIONS} connections …`);
  results.rawPerSec = COUNT / (runRawPool(sink.smtpPort, COUNT, CONNECTIONS).ms / 1000);
  await fetch(`http://${HOST}:${sink.port}/reset`);

  log(`delivery: ${COUNT} queued, then the server activated …`);
  const queued = await instance(sink, false);
  queued.enqueue(COUNT, "transactional");
  const t0 = Date.now();
  await queued.activate();
  const done = await waitForCount(sink, COUNT, 120_000);
  results.deliveryPerSec = done.count / ((done.lastAt - t0) / 1000);
  await queued.stop();
  await fetch(`http://${HOST}:${sink.port}/reset`);

  log(`end to end: ${COUNT} POSTs (32 clients) → sink …`);
  const live = await instance(sink, true);
  const first = await postMany(live.base, live.auth, COUNT, 32);
  results.endToEndAcceptedMs = Date.now() - first;
  results.endToEndDeliveredAtAccept = (await sink.stats()).count;
  const e2e = await waitForCount(sink, COUNT, 120_000);
  results.endToEndPerSec = e2e.count / ((e2e.lastAt - first) / 1000);
  await live.stop();
  await sink.stop();
}

// ---------------------------------------------------------------- 100,000 enqueue
for (const body of want("enqueue") ? ["short", "full"] : []) {
  const dir = tmp("enqueue");
  const p = Bun.spawnSync([process.execPath, join(ROOT, "bench/servers/enqueue.ts")], { env: { ...process.env, DATA_DIR: dir, COUNT: String(BACKLOG), BODY: body, SEED: "1" } });
  results[`enqueueMs_${body}`] = JSON.parse(p.stdout.toString()).ms;
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- lanes: transactionals behind a bulk backlog (slow sink)
if (want("lanes")) {
  log(`lanes: ${BACKLOG} bulk queued for a slow sink, then 100 transactionals …`);
  const sink = await startSink(10);
  const mr = await instance(sink, false);
  mr.enqueue(BACKLOG, "broadcast");
  await mr.activate();
  await waitForCount(sink, 200, 30_000);
  const sentAt: Record<string, number> = {};
  for (let i = 0; i < 100; i++) {
    const subject = `lat-${i}`;
    sentAt[subject] = Date.now();
    const res = await fetch(`${mr.base}/transactionals`, { method: "POST", headers: mr.auth, body: JSON.stringify({ to: `t${i}@example.com`, subject, body: "<p>now</p>" }) });
    if (res.status !== 201) throw new Error(`POST → ${res.status}`);
    await sleep(50);
  }
  const deadline = Date.now() + 60_000;
  let arrivals: Record<string, number> = {};
  while (Date.now() < deadline && Object.keys(arrivals).length < 100) {
    arrivals = (await sink.stats()).arrivals;
    await sleep(50);
  }
  const latencies = Object.keys(sentAt).map((k) => (arrivals[k] ?? Infinity) - sentAt[k]!);
  Object.assign(results, { laneP50Ms: percentile(latencies, 50), laneP99Ms: percentile(latencies, 99), laneArrived: Object.keys(arrivals).length });
  await mr.stop();
  await sink.stop();
}

// ---------------------------------------------------------------- whoami during full-speed delivery, RSS while draining
if (want("busy")) {
  log(`whoami idle vs during delivery; RSS while draining ${BACKLOG} …`);
  const sink = await startSink();
  // The RSS floor: a process that only sends the same stream with nodemailer, to the same sink.
  const rawDrain = runRawPool(sink.smtpPort, BACKLOG, CONNECTIONS, { SHORT: "1", INFLIGHT: "50" });
  Object.assign(results, { rawDrainMaxRssMb: rawDrain.maxRssMb, rawDrainPerSec: BACKLOG / (rawDrain.ms / 1000) });
  await fetch(`http://${HOST}:${sink.port}/reset`);
  const mr = await instance(sink, false);
  mr.enqueue(BACKLOG, "broadcast");
  // The server's only email server is inactive: its delivery job first marks every row as waiting
  // for a route (one claim per batch). Idle means after that pass, or "idle" would include it.
  const db = new Database(join(mr.server.dataDir!, "mailroom.db"), { readonly: true });
  const unmarked = db.query("SELECT count(*) AS n FROM messages WHERE status = 'queued' AND waiting_for IS NULL");
  for (let i = 0; i < 1200 && (unmarked.get() as { n: number }).n > 0; i++) await sleep(100);
  db.close();
  const o = { threads: 1, connections: 16, seconds: 5, warmupSeconds: 0 };
  const headers = { authorization: `Bearer ${mr.token}` };
  await waitQuiet(mr.server.pid);
  await wrk(`${mr.base}/whoami`, headers, 5, o); // warm-up: JIT and caches, not measured
  // One 5 s p99 varies ±30 % run to run: three runs each way, medians compared.
  const idle: number[] = [];
  for (let i = 0; i < 3; i++) idle.push((await wrk(`${mr.base}/whoami`, headers, 5, o)).p99Us);
  let maxRss = (results.drainStartRssMb = rssMb(mr.server.pid));
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssMb(mr.server.pid))), 100);
  const t0 = Date.now();
  await mr.activate();
  await waitForCount(sink, 1000, 30_000);
  const before = (await sink.stats()).count;
  const busy: number[] = [];
  for (let i = 0; i < 3; i++) busy.push((await wrk(`${mr.base}/whoami`, headers, 5, o)).p99Us);
  // Bulk mail yields to a busy API (jobs/api-load.ts): what still went out while whoami saturated it.
  results.drainDuringWhoamiPerSec = ((await sink.stats()).count - before) / 15;
  const drained = await waitForCount(sink, BACKLOG, 300_000);
  clearInterval(sampler);
  Object.assign(results, {
    whoamiIdleP99Us: median(idle),
    whoamiBusyP99Us: median(busy),
    drainPerSec: drained.count / ((drained.lastAt - t0) / 1000),
    drainMaxRssMb: maxRss,
  });
  whoamiRuns = `idle ${idle.map(fmt.us).join(", ")}; busy ${busy.map(fmt.us).join(", ")}`;
  await mr.stop();
  await sink.stop();
}

const ratio = (x: number, y: number) => (x / y).toFixed(2);
const rows = [
  ["measure", "Mailroom", "baseline", "ratio", "target"],
  ["accept /s (32 conns)", fmt.int(results.acceptPerSec!), fmt.int(results.insertPerSec!), ratio(results.acceptPerSec!, results.insertPerSec!), "≥ 0.5"],
  ["accept p50 / p99", `${fmt.us(results.acceptP50Us!)} / ${fmt.us(results.acceptP99Us!)}`, "", "", ""],
  ["accept: server CPU per request (all threads) / wrk CPU", `${fmt.us(results.acceptCpuUs!)} / ${fmt.f1(results.acceptWrkCpuPct!)} %`, "", "", ""],
  ["accept: server CPU per request, main thread / other threads", `${fmt.us(results.acceptMainCpuUs!)} / ${fmt.us(results.acceptCpuUs! - results.acceptMainCpuUs!)}`, "", "", ""],
  [`delivery /s (${COUNT} queued)`, fmt.int(results.deliveryPerSec!), fmt.int(results.rawPerSec!), ratio(results.deliveryPerSec!, results.rawPerSec!), "≥ 0.9"],
  [`end to end /s (${COUNT})`, fmt.int(results.endToEndPerSec!), fmt.int(results.rawPerSec!), ratio(results.endToEndPerSec!, results.rawPerSec!), "≥ 0.7"],
  [`  of which: all ${COUNT} accepted after / delivered by then`, `${fmt.int(results.endToEndAcceptedMs!)} ms / ${fmt.int(results.endToEndDeliveredAtAccept!)}`, "", "", ""],
  [`enqueue ${BACKLOG} (fan-out rows)`, `${fmt.int(results.enqueueMs_short!)} ms`, "", "", "≤ 2000 ms"],
  [`enqueue ${BACKLOG} (2 KB body per row)`, `${fmt.int(results.enqueueMs_full!)} ms`, "", "", ""],
  ["transactional behind bulk p50 / p99", `${fmt.int(results.laneP50Ms!)} / ${fmt.int(results.laneP99Ms!)} ms`, "", "", "p99 ≤ 2000 ms"],
  ["whoami p99 busy / idle (medians of 3 runs)", fmt.us(results.whoamiBusyP99Us!), fmt.us(results.whoamiIdleP99Us!), ratio(results.whoamiBusyP99Us!, results.whoamiIdleP99Us!), "≤ 2"],
  [`  the runs: ${whoamiRuns || "n/a"}`, "", "", "", ""],
  [`RSS max while draining ${BACKLOG} / raw pool sending them`, `${fmt.f1(results.drainMaxRssMb!)} MiB`, `${fmt.f1(results.rawDrainMaxRssMb!)} MiB`, ratio(results.drainMaxRssMb!, results.rawDrainMaxRssMb!), "≤ 150 MiB"],
  [`  RSS when the drain starts (${BACKLOG} waiting, after the idle whoami runs)`, `${fmt.f1(results.drainStartRssMb!)} MiB`, "", "", ""],
  ["drain /s (full-speed sink, whoami load) / raw pool", fmt.int(results.drainPerSec!), fmt.int(results.rawDrainPerSec!), ratio(results.drainPerSec!, results.rawDrainPerSec!), ""],
  ["  of which during the whoami run (bulk mail yields to the API)", `${fmt.int(results.drainDuringWhoamiPerSec!)} /s`, "", "", ""],
];
console.log(table(rows));
if (a.json) console.log(JSON.stringify({ git: Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"]).stdout.toString().trim(), bun: Bun.version, results }, null, 2));
