/**
 * Broadcast delivery on dist/mailroom, same machine, same run:
 * - a raw nodemailer pool (5 connections) sending COUNT messages to an smtp-server sink: the baseline;
 * - a broadcast to COUNT subscribers through the same sink (5 connections): send_broadcast → last
 *   message at the sink (target ≥ 0.9 × the baseline rate), and its CPU per message against the raw
 *   pool's (target ≤ 1.1 ×: on 2 cores shared with the sink the rate follows it; steadier than rates);
 * - 50 transactionals posted while that broadcast is delivering: POST → arrival at the sink
 *   (target p99 ≤ 2 s; they take the priority lane).
 * Usage: bun bench/broadcast-delivery.ts [--count 20000] [--json]
 */
import { parseArgs } from "node:util";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { HOST, MAILROOM_BIN, ROOT, cpuUs, fmt, runRawPool, freePort, sleep, spawnServer, startMailroom, table, tmp } from "./lib";
import { benchHtml } from "./payload";

const { values: a } = parseArgs({ options: { count: { type: "string", default: "20000" }, json: { type: "boolean", default: false } } });
const COUNT = Number(a.count);
const CONNECTIONS = 5;
const LATENCY_PROBES = 50;
const log = (s: string) => process.stderr.write(`[broadcast-delivery] ${s}\n`);
const percentile = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

const [smtpPort, statsPort] = [await freePort(), await freePort()];
const sink = spawnServer([process.execPath, join(ROOT, "bench/servers/smtp-sink.ts")], { PORT: String(smtpPort), STATS_PORT: String(statsPort), DELAY_MS: "0" }, statsPort);
type Stats = { count: number; firstAt: number; lastAt: number; arrivals: Record<string, number> };
const stats = async (): Promise<Stats> => (await fetch(`http://${HOST}:${statsPort}/stats`)).json() as Promise<Stats>;
for (let i = 0; i < 500; i++) if (await stats().then(() => true, () => false)) break; else await sleep(10);
const waitForCount = async (n: number, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats();
    if (s.count >= n || Date.now() > deadline) return s;
    await sleep(20);
  }
};

const dataDir = tmp("broadcast-delivery");
const server = await startMailroom(dataDir, { MAILROOM_CAPTURE: "0" });
try {
  log(`raw nodemailer pool, ${COUNT} messages …`);
  const rawResult = runRawPool(smtpPort, COUNT, CONNECTIONS);
  const rawPerSec = COUNT / (rawResult.ms / 1000);
  await fetch(`http://${HOST}:${statsPort}/reset`);

  const cli = Bun.spawnSync([MAILROOM_BIN, "token", "create", "--name", "bench", "--preset", "all", "--scope", "all", "--json", "--data-dir", dataDir]);
  const auth = { authorization: `Bearer ${JSON.parse(cli.stdout.toString()).token}`, "content-type": "application/json" };
  const base = `http://${HOST}:${server.port}/api/v1`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };
  for (let i = 0; i < 500; i++) if ((await fetch(`${base}/channels/default`, { headers: auth })).status === 200) break; else await sleep(10);
  await api("POST", "/email_servers", { channel: "default", label: "sink", smtp_address: HOST, smtp_port: smtpPort, smtp_enable_starttls_auto: false, max_connections: CONNECTIONS });
  for (let start = 0; start < COUNT; start += 10_000) {
    const rows = Array.from({ length: Math.min(10_000, COUNT - start) }, (_, i) => ({ email: `reader${start + i}@example.com`, first_name: `R${start + i}` }));
    await api("POST", "/subscribers/bulk", { channel: "default", subscribers: rows });
  }
  const b = await api("POST", "/broadcasts", { channel: "default", subject: "News for {{ first_name }}", body: benchHtml(0) });

  log(`broadcast to ${COUNT} subscribers …`);
  const t0 = Date.now();
  const [cpu0, main0] = [cpuUs(server.pid), cpuUs(server.pid, server.pid)];
  await api("POST", `/broadcasts/${b.id}/send_broadcast`);
  await waitForCount(Math.min(200, COUNT / 10), 30_000);
  const sentAt: Record<string, number> = {};
  for (let i = 0; i < LATENCY_PROBES; i++) {
    sentAt[`lat-${i}`] = Date.now();
    await api("POST", "/transactionals", { channel: "default", to: `t${i}@example.com`, subject: `lat-${i}`, body: "<p>now</p>" });
    await sleep(40);
  }
  const done = await waitForCount(COUNT + LATENCY_PROBES, 300_000);
  if (!server.alive()) throw new Error(`mailroom exited during the broadcast (${done.count} messages arrived); log: ${server.logFile}`);
  // Server CPU per message (all threads; the 50 probe requests included): steadier than rates on a shared machine.
  // The main thread's share: fan-out, claiming and recording; rendering and SMTP run in the delivery thread.
  const cpuPerMessage = (cpuUs(server.pid) - cpu0) / done.count;
  const mainCpuPerMessage = (cpuUs(server.pid, server.pid) - main0) / done.count;
  const broadcastPerSec = (done.count - LATENCY_PROBES) / ((done.lastAt - t0) / 1000);
  const latencies = Object.keys(sentAt).map((k) => (done.arrivals[k] ?? Infinity) - sentAt[k]!);
  const results = { rawPerSec, broadcastPerSec, ratio: broadcastPerSec / rawPerSec, rawCpuUsPerMessage: rawResult.cpuUs / COUNT, cpuUsPerMessage: cpuPerMessage, mainThreadCpuUsPerMessage: mainCpuPerMessage, transactionalP50Ms: percentile(latencies, 50), transactionalP99Ms: percentile(latencies, 99) };
  if (a.json) console.log(JSON.stringify({ count: COUNT, ...results }));
  else
    console.log(
      table([
        [`broadcast delivery (n = ${fmt.int(COUNT)}, ${CONNECTIONS} connections)`, "measured", "target"],
        ["raw nodemailer pool", `${fmt.int(rawPerSec)} msg/s`, "baseline"],
        ["broadcast: send_broadcast → last message at the sink", `${fmt.int(broadcastPerSec)} msg/s (${results.ratio.toFixed(2)} ×)`, "≥ 0.90 ×"],
        ["CPU per message: raw pool process / Mailroom (all threads)", `${fmt.int(results.rawCpuUsPerMessage)} / ${fmt.int(cpuPerMessage)} µs (${(cpuPerMessage / results.rawCpuUsPerMessage).toFixed(2)} ×)`, "≤ 1.1 ×"],
        ["CPU per message: Mailroom's main thread (fan-out, claim, record)", `${fmt.int(mainCpuPerMessage)} µs`, "—"],
        ["transactional during the broadcast, p50 / p99", `${results.transactionalP50Ms} / ${results.transactionalP99Ms} ms`, "p99 ≤ 2000 ms"],
      ]),
    );
} finally {
  await server.stop();
  await sink.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
