/**
 * The JavaScript side of a request, in-process and without sockets: Mailroom's HTTP edge + app vs a
 * bare Elysia app with the same bodies, on requests built in JS. Far less noisy than wrk on a shared
 * machine (spread ~0.2 µs instead of ~2 µs), so it can judge changes of a few tenths of a µs; it
 * does not see the native costs (reading request headers off the socket, writing response headers).
 * Usage: bun bench/in-process.ts [--requests 100000] [--rounds 7]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Elysia } from "elysia";
import { createApp } from "../src/app";
import { buildDeps, firstRun, openDataDir } from "../src/boot";
import { loadConfig } from "../src/config";
import { createFetchHandler } from "../src/http/server";
import { createLogger } from "../src/lib/log";
import { systemClock } from "../src/lib/time";
import { median, table } from "./lib";

const { values: a } = parseArgs({ options: { requests: { type: "string", default: "100000" }, rounds: { type: "string", default: "7" } } });
const requests = Number(a.requests);
const rounds = Number(a.rounds);

const dir = mkdtempSync(join(tmpdir(), "mailroom-bench-inproc-"));
const config = loadConfig({ MAILROOM_DATA_DIR: dir, MAILROOM_RATE_LIMIT_GENERAL: "100000000" });
const { database } = openDataDir(config);
// The real logger, formatting every line; only the final write is dropped.
const deps = buildDeps(config, database, createLogger(() => {}), systemClock);
const { token } = (await firstRun(deps))!;
const mailroom = createFetchHandler(createApp(deps), deps);
const server = { requestIP: () => ({ address: "127.0.0.1" }) } as never;
const headers = { authorization: `Bearer ${token}`, "user-agent": "bench" };
const request = (path: string) => new Request(`http://127.0.0.1${path}`, { headers });

const whoamiBody = await (await mailroom(request("/api/v1/whoami"), server)).json();
const healthzBody = await (await mailroom(request("/healthz"), server)).json();
const bare = new Elysia().get("/api/v1/whoami", () => whoamiBody).get("/healthz", () => healthzBody);

const cases: [string, () => Promise<Response> | Response][] = [
  ["Request construction only (subtracted below)", () => new Response(request("/healthz").url)],
  ["bare Elysia GET /healthz", () => bare.handle(request("/healthz"))],
  ["mailroom GET /healthz", () => mailroom(request("/healthz"), server)],
  ["bare Elysia GET /api/v1/whoami (same body)", () => bare.handle(request("/api/v1/whoami"))],
  ["mailroom GET /api/v1/whoami (token, limiter on)", () => mailroom(request("/api/v1/whoami"), server)],
];
const samples = cases.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  for (const [i, [, run]] of cases.entries()) {
    const t0 = performance.now();
    for (let n = 0; n < requests; n++) {
      const r = run();
      if (r instanceof Promise) await r;
    }
    samples[i]!.push(((performance.now() - t0) * 1000) / requests);
  }
}
const us = samples.map(median);
const net = (i: number) => us[i]! - us[0]!;
console.log(`in-process, ${requests.toLocaleString("en")} requests × ${rounds} rounds, median per request (bun ${Bun.version})\n`);
console.log(table([
  ["case", "µs/request", "minus construction", "spread (max−min)"],
  ...cases.map(([name], i) => [name, us[i]!.toFixed(2), i === 0 ? "" : net(i).toFixed(2), (Math.max(...samples[i]!) - Math.min(...samples[i]!)).toFixed(2)]),
]));
console.log(`\n/healthz: mailroom − bare ${(net(2) - net(1)).toFixed(2)} µs; whoami: mailroom − bare ${(net(4) - net(3)).toFixed(2)} µs (JavaScript only)`);
database.close();
rmSync(dir, { recursive: true, force: true });
