/**
 * Bench runner: each HTTP bench is a row { name, server, path, headers } loaded by wrk
 * against 127.0.0.1 only. Servers run as separate processes so their CPU time can be
 * read from /proc/<pid>/stat. Every loop here is bounded by a count or a deadline.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";

export const ROOT = resolve(import.meta.dir, "..");
export const HOST = "127.0.0.1";

/** A started server process. `stop()` sends SIGTERM and waits (SIGKILL after 5 s). */
export interface Running {
  pid: number;
  port: number;
  dataDir?: string;
  logFile: string;
  alive(): boolean;
  stop(): Promise<void>;
}

/** A row of the HTTP table. `setup` may prepare the server (e.g. create a token) and return headers. */
export interface HttpBench {
  name: string;
  start: () => Promise<Running>;
  path: string;
  headers?: Record<string, string>;
  setup?: (server: Running) => Promise<Record<string, string> | void>;
}

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

export interface HttpRow {
  name: string;
  rps: number;
  p50Us: number;
  p99Us: number;
  requests: number;
  errors: number;
  serverCpuUsPerReq: number;
  wrkCpuPct: number;
  rssAfterMb: number;
}

export const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `mailroom-bench-${prefix}-`));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago (bind :0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, HOST, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

let clkTck = 0;
/** utime+stime of a process (all threads), or of one of its threads (`tid`; the main thread's is the pid), in µs. */
export function cpuUs(pid: number, tid?: number): number {
  if (!clkTck) clkTck = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] = field 3 (state)
  return ((Number(f[11]) + Number(f[12])) / clkTck) * 1e6; // fields 14, 15
}

/**
 * Waits until the server's threads together use under 5 % of a core over half a second (at most
 * `timeoutMs`), so an "idle" measurement does not include background work still finishing.
 */
export async function waitQuiet(pid: number, timeoutMs = 30_000): Promise<void> {
  const windowMs = 500;
  for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; ) {
    const before = cpuUs(pid);
    await sleep(windowMs);
    if (cpuUs(pid) - before < windowMs * 1000 * 0.05) return;
  }
}

/** VmRSS in MiB. */
export function rssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface RawPoolResult {
  /** First send → last acceptance. */
  ms: number;
  /** The pool process's CPU time. */
  cpuUs: number;
  maxRssMb: number;
}

/**
 * Runs bench/servers/raw-pool.ts (the baseline: a raw nodemailer pool, `connections` connections)
 * sending `count` messages to the SMTP port; `env` picks its mode (SHORT, INFLIGHT).
 */
export function runRawPool(smtpPort: number, count: number, connections: number, env: Record<string, string> = {}): RawPoolResult {
  const p = Bun.spawnSync([process.execPath, join(ROOT, "bench/servers/raw-pool.ts")], {
    env: { ...process.env, PORT: String(smtpPort), COUNT: String(count), CONNECTIONS: String(connections), ...env },
  });
  if (p.exitCode !== 0) throw new Error(`raw pool: ${p.stderr}`);
  return JSON.parse(p.stdout.toString());
}

/** Polls GET url until 200, at most `timeoutMs`; returns ms elapsed since `t0` or throws. */
export async function waitFor200(url: string, t0: number, timeoutMs: number, alive?: () => boolean, headers: Record<string, string> = {}): Promise<number> {
  const deadline = t0 + timeoutMs;
  while (performance.now() < deadline) {
    if (alive && !alive()) throw new Error(`server exited before ${url} answered`);
    try {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - t0;
    } catch {
      /* not listening yet */
    }
    await sleep(2);
  }
  throw new Error(`no 200 from ${url} within ${timeoutMs} ms`);
}

export function spawnServer(cmd: string[], env: Record<string, string>, port: number, dataDir?: string): Running {
  const logDir = dataDir ?? tmp("log");
  const logFile = join(logDir, "server.log");
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: Bun.file(logFile),
    stderr: Bun.file(logFile + ".err"),
    stdin: "ignore",
  });
  return {
    pid: proc.pid,
    port,
    dataDir,
    logFile,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await proc.exited;
      clearTimeout(killer);
    },
    alive: () => proc.exitCode === null && proc.signalCode === null,
  };
}

/** A bun script under bench/servers/ listening on $PORT; ready once `readyPath` answers 200 (sent with `readyHeaders`). */
export function bunScript(file: string, readyPath = "/", env: Record<string, string> = {}, readyHeaders: Record<string, string> = {}): () => Promise<Running> {
  return async () => {
    const port = await freePort();
    const r = spawnServer([process.execPath, join(ROOT, "bench/servers", file)], { PORT: String(port), ...env }, port);
    await waitFor200(`http://${HOST}:${port}${readyPath}`, performance.now(), 15_000, r.alive, readyHeaders);
    return r;
  };
}

export const MAILROOM_BIN = process.env.MAILROOM_BIN ?? join(ROOT, "dist/mailroom");

/** Environment for a bench instance: loopback only, SMTP off, ephemeral capture port, no rate limits. */
export function mailroomEnv(dataDir: string): Record<string, string> {
  return {
    MAILROOM_HOST: HOST,
    MAILROOM_DATA_DIR: dataDir,
    MAILROOM_SMTP_PORT: "0",
    MAILROOM_CAPTURE_PORT: "0",
    MAILROOM_RATE_LIMIT_GENERAL: "0",
    MAILROOM_RATE_LIMIT_SEND: "0",
    MAILROOM_ADMIN_EMAIL: "bench@example.com",
    MAILROOM_ADMIN_PASSWORD: "bench-password-1234",
  };
}

/** Starts `dist/mailroom serve --port P --data-dir D` and returns once /healthz says 200. */
export async function startMailroom(dataDir = tmp("data"), env: Record<string, string> = {}): Promise<Running & { bootMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const r = spawnServer([MAILROOM_BIN, "serve", "--port", String(port), "--data-dir", dataDir], { ...mailroomEnv(dataDir), ...env }, port, dataDir);
  try {
    const bootMs = await waitFor200(`http://${HOST}:${port}/healthz`, t0, 15_000, r.alive);
    return Object.assign(r, { bootMs });
  } catch (e) {
    await r.stop();
    throw new Error(`${e}\n--- ${r.logFile} ---\n${tail(r.logFile)}${tail(r.logFile + ".err")}`);
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "";
  }
}

/** wrk's `--latency` distribution value ("412.00us", "1.20ms", "2.00s") in µs. */
export function parseDuration(s: string): number {
  const m = s.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) return NaN;
  const k = { us: 1, ms: 1e3, s: 1e6, m: 60e6 }[m[2] as "us" | "ms" | "s" | "m"];
  return Number(m[1]) * k;
}

export function parseWrk(out: string) {
  const pct = (p: string) => parseDuration(out.match(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m"))?.[1] ?? "");
  const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? NaN);
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests, rps, p50Us: pct("50"), p99Us: pct("99"), errors: non2xx + sockErrors };
}

/** Runs wrk once; `script` is a Lua file (e.g. a POST with a distinct body per request). */
export async function wrk(url: string, headers: Record<string, string>, seconds: number, o: WrkOptions, script?: string) {
  const args = ["wrk", `-t${o.threads}`, `-c${o.connections}`, `-d${seconds}s`, "--latency", ...(script ? ["-s", script] : [])];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  args.push(url);
  const p = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`wrk exited ${code}: ${err}`);
  const usage = p.resourceUsage();
  const wrkCpuUs = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) : NaN;
  return { ...parseWrk(out), wrkCpuPct: (wrkCpuUs / (seconds * 1e6)) * 100, raw: out };
}

/** Runs one row: start, optional setup, warm-up, measured wrk run with server CPU delta, stop. */
export async function runHttpBench(b: HttpBench, o: WrkOptions): Promise<HttpRow> {
  const server = await b.start();
  try {
    const headers = { ...b.headers, ...((await b.setup?.(server)) ?? {}) };
    const url = `http://${HOST}:${server.port}${b.path}`;
    const first = await fetch(url, { headers });
    await first.arrayBuffer();
    if (first.status !== 200) throw new Error(`${b.name}: GET ${b.path} → ${first.status}, expected 200`);
    if (o.warmupSeconds > 0) await wrk(url, headers, o.warmupSeconds, o);
    const cpu0 = cpuUs(server.pid);
    const r = await wrk(url, headers, o.seconds, o);
    const cpu1 = cpuUs(server.pid);
    return {
      name: b.name,
      rps: r.rps,
      p50Us: r.p50Us,
      p99Us: r.p99Us,
      requests: r.requests,
      errors: r.errors,
      serverCpuUsPerReq: (cpu1 - cpu0) / r.requests,
      wrkCpuPct: r.wrkCpuPct,
      rssAfterMb: rssMb(server.pid),
    };
  } finally {
    await server.stop();
    if (server.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  }
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Plain fixed-width table; the first row is the header. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const w = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(cells[0]!), w.map((n) => "-".repeat(n)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

export const fmt = {
  int: (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a"),
  us: (n: number) => (!Number.isFinite(n) ? "n/a" : n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${n.toFixed(0)} µs`),
  f1: (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "n/a"),
};

/** JSON calls to an in-process test server with its admin token: the answer's body and how long it took; ≥ 300 throws. */
export function apiCaller(server: { url: string; adminToken: string }) {
  return async (method: string, path: string, body?: unknown): Promise<{ ms: number; body: any }> => {
    const s = performance.now();
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${path} → ${res.status} ${text.slice(0, 200)}`);
    return { ms: performance.now() - s, body: JSON.parse(text) };
  };
}
