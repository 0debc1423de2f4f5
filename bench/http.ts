/**
 * HTTP, start-up and memory bench of dist/mailroom against bare baselines, same machine, same run.
 * Usage: bun bench/http.ts [--seconds 10] [--warmup 2] [--connections 50] [--threads 1]
 *                          [--cold-runs 10] [--only SUBSTRING] [--skip-startup] [--json]
 * Add a row to ROWS to bench another route; `optional` rows are reported as skipped when
 * their server or setup is not there yet instead of failing the run.
 */
import { parseArgs } from "node:util";
import { existsSync, rmSync, statSync } from "node:fs";
import { generateToken } from "../src/lib/tokens";
import { join } from "node:path";
import {
  HOST, MAILROOM_BIN, ROOT, bunScript, fmt, median, mailroomEnv, rssMb, runHttpBench, sleep, startMailroom, table, tmp,
  type HttpBench, type HttpRow, type WrkOptions,
} from "./lib";

const { values: a } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "50" },
    threads: { type: "string", default: "1" },
    "cold-runs": { type: "string", default: "10" },
    only: { type: "string" },
    "skip-startup": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const wrkOpts: WrkOptions = {
  seconds: Number(a.seconds),
  warmupSeconds: Number(a.warmup),
  connections: Number(a.connections),
  threads: Number(a.threads),
};
const coldRuns = Math.min(Math.max(Number(a["cold-runs"]), 1), 50);

/** `mailroom token create --json` against the server's data dir → bearer header. */
async function bearerToken(server: { dataDir?: string }, preset = "all") {
  const p = Bun.spawnSync(
    [MAILROOM_BIN, "token", "create", "--name", "bench", "--preset", preset, "--scope", "all", "--json", "--data-dir", server.dataDir!],
    { env: { ...process.env, ...mailroomEnv(server.dataDir!) }, stdout: "pipe", stderr: "pipe" },
  );
  if (p.exitCode !== 0) {
    const lines = (p.stderr.toString() + p.stdout.toString()).split("\n").filter((l) => l.trim());
    throw new Error(`token create exited ${p.exitCode}: ${lines.filter((l) => /error/i.test(l)).at(-1) ?? lines.at(-1) ?? ""}`);
  }
  const { token } = JSON.parse(p.stdout.toString()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

// The whoami body (for the bare baseline) and the SQL statements per whoami request, measured in-process.
const whoamiBody = tmp("whoami-body") + ".json";
const statements = Bun.spawnSync([process.execPath, join(ROOT, "bench/whoami-body.ts"), whoamiBody, "20000"], { stdout: "pipe", stderr: "pipe" });
const statementCount = statements.exitCode === 0 ? (JSON.parse(statements.stdout.toString()) as { statements_per_request: number }) : null;

// The floor rows' token (a real Mailroom-format value; the floor server only knows its hash).
const floorAuth = { authorization: `Bearer ${generateToken()}` };

type Row = HttpBench & { id: string; optional?: boolean };
const ROWS: Row[] = [
  { id: "a", name: "a  Bun.serve JSON (bare)", start: bunScript("bare-bun.ts"), path: "/" },
  { id: "elysia", name: "   Elysia route JSON (bare)", start: bunScript("bare-elysia.ts", "/healthz"), path: "/healthz" },
  { id: "floor-healthz", name: "   floor: bare Bun.serve doing /healthz's required work", start: bunScript("floor-healthz.ts"), path: "/healthz" },
  { id: "b", name: "b  mailroom GET /healthz", start: () => startMailroom(), path: "/healthz" },
  { id: "elysia-whoami", name: "   Elysia route, whoami's JSON body (bare)", start: bunScript("bare-elysia-body.ts", "/api/v1/whoami", { BODY_FILE: whoamiBody }), path: "/api/v1/whoami" },
  {
    id: "floor-whoami", name: "   floor: bare Bun.serve doing whoami's required work", path: "/api/v1/whoami", headers: floorAuth,
    start: bunScript("floor-whoami.ts", "/api/v1/whoami", { BODY_FILE: whoamiBody, TOKEN: floorAuth.authorization.slice(7) }, floorAuth),
  },
  {
    // Limiter active: a limit high enough never to refuse, so every request is charged and gets the headers.
    id: "whoami", name: "c  mailroom GET /api/v1/whoami (token, limiter on)",
    start: () => startMailroom(undefined, { MAILROOM_RATE_LIMIT_GENERAL: "100000000" }), path: "/api/v1/whoami", setup: (s) => bearerToken(s),
  },
];
/** [numerator, denominator] row ids printed as ratios. */
const RATIOS: [string, string][] = [["b", "a"], ["floor-healthz", "a"], ["b", "elysia"], ["whoami", "elysia-whoami"], ["floor-whoami", "elysia-whoami"]];

const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT }).stdout.toString().trim() || "uncommitted";
if (!existsSync(MAILROOM_BIN)) throw new Error(`${MAILROOM_BIN} is missing: run bun run build first`);
const log = (s = "") => { if (!a.json) console.log(s); };
log(`mailroom bench — ${new Date().toISOString()} · git ${git} · bun ${Bun.version} · ${navigator.hardwareConcurrency} cores · ${MAILROOM_BIN.replace(ROOT + "/", "")} ${(statSync(MAILROOM_BIN).size / 2 ** 20).toFixed(0)} MiB`);
log(`wrk -t${wrkOpts.threads} -c${wrkOpts.connections} -d${wrkOpts.seconds}s (after a ${wrkOpts.warmupSeconds}s warm-up) against ${HOST}; each server is its own process\n`);

const results: (HttpRow & { id: string })[] = [];
const skipped: { id: string; name: string; reason: string }[] = [];
let failed = false;
for (const row of ROWS.filter((r) => !a.only || r.name.includes(a.only) || r.id === a.only)) {
  try {
    results.push({ id: row.id, ...(await runHttpBench(row, wrkOpts)) });
  } catch (e) {
    const reason = String(e instanceof Error ? e.message : e).split("\n")[0]!;
    skipped.push({ id: row.id, name: row.name.trim(), reason });
    if (!row.optional) failed = true;
  }
}

log(table([
  ["row", "req/s", "p50", "p99", "server CPU µs/req", "wrk CPU %", "errors", "RSS after MiB"],
  ...results.map((r) => [r.name, fmt.int(r.rps), fmt.us(r.p50Us), fmt.us(r.p99Us), r.serverCpuUsPerReq.toFixed(1), fmt.f1(r.wrkCpuPct), r.errors, fmt.f1(r.rssAfterMb)]),
]));
for (const s of skipped) log(`skipped ${s.name}: ${s.reason}`);
const ratios: Record<string, { rps: number; cpu: number }> = {};
for (const [n, d] of RATIOS) {
  const x = results.find((r) => r.id === n), y = results.find((r) => r.id === d);
  if (!x || !y) continue;
  ratios[`${n}/${d}`] = { rps: x.rps / y.rps, cpu: x.serverCpuUsPerReq / y.serverCpuUsPerReq };
  log(`${n}/${d}: req/s ×${(x.rps / y.rps).toFixed(2)}, server CPU per request ×${(x.serverCpuUsPerReq / y.serverCpuUsPerReq).toFixed(2)}`);
}
{
  const x = results.find((r) => r.id === "whoami"), y = results.find((r) => r.id === "elysia-whoami");
  if (x && y) log(`whoami − bare: server CPU ${(x.serverCpuUsPerReq - y.serverCpuUsPerReq).toFixed(1)} µs/req more (target ≤ +5), req/s ×${(x.rps / y.rps).toFixed(2)} (target ≥ 0.75)`);
  const f = results.find((r) => r.id === "floor-whoami");
  if (f && y) log(`floor − bare (whoami's required work, no framework): server CPU ${(f.serverCpuUsPerReq - y.serverCpuUsPerReq).toFixed(1)} µs/req more, req/s ×${(f.rps / y.rps).toFixed(2)}`);
}
log(statementCount ? `SQL statements per authenticated whoami request in steady state: ${statementCount.statements_per_request} (in-process count over 20,000 requests)` : `statement count failed: ${statements.stderr.toString().split("\n")[0]}`);
log("(when wrk CPU % is near 100 the client is the bottleneck: compare CPU µs/req, not req/s)\n");

const startup: Record<string, number> = {};
if (!a["skip-startup"] && !a.only) {
  try {
    const first: number[] = [];
    for (let i = 0; i < coldRuns; i++) {
      const s = await startMailroom(tmp("first"));
      first.push(s.bootMs);
      await s.stop();
      rmSync(s.dataDir!, { recursive: true, force: true });
    }
    const dir = tmp("reused");
    await (await startMailroom(dir)).stop(); // initialise once, not counted
    const reused: number[] = [];
    for (let i = 0; i < coldRuns; i++) {
      const s = await startMailroom(dir);
      reused.push(s.bootMs);
      await s.stop();
    }
    const rss: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startMailroom(dir);
      await sleep(2000);
      rss.push(rssMb(s.pid));
      await s.stop();
    }
    rmSync(dir, { recursive: true, force: true });
    Object.assign(startup, {
      first_run_ms: median(first), reused_ms: median(reused), idle_rss_mib: median(rss),
      first_run_min_ms: Math.min(...first), first_run_max_ms: Math.max(...first),
      reused_min_ms: Math.min(...reused), reused_max_ms: Math.max(...reused),
    });
    log(table([
      [`start-up (exec → first 200 on /healthz, ${coldRuns} runs)`, "median", "min", "max"],
      ["first run (fresh data dir: migrations, first-run setup)", `${startup.first_run_ms!.toFixed(0)} ms`, `${startup.first_run_min_ms!.toFixed(0)} ms`, `${startup.first_run_max_ms!.toFixed(0)} ms`],
      ["reused data dir", `${startup.reused_ms!.toFixed(0)} ms`, `${startup.reused_min_ms!.toFixed(0)} ms`, `${startup.reused_max_ms!.toFixed(0)} ms`],
      ["idle RSS 2 s after boot (VmRSS, 3 runs)", `${startup.idle_rss_mib!.toFixed(1)} MiB`, "", ""],
    ]));
  } catch (e) {
    failed = true;
    log(`start-up bench failed: ${e}`);
  }
}

if (a.json) console.log(JSON.stringify({ git, bun: Bun.version, wrk: wrkOpts, rows: results, skipped, ratios, startup }, null, 2));
process.exit(failed ? 1 : 0);
