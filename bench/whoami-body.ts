/**
 * In-process companion of the whoami row: boots Mailroom on a temp data dir, then
 *  1. writes the exact JSON body of GET /api/v1/whoami to $OUT (the bare-Elysia baseline serves it), and
 *  2. counts SQL statement executions over N authenticated whoami requests through the real HTTP
 *     edge (steady state: expected 0 per request; usage is flushed once a second, off the request path).
 * Usage: bun bench/whoami-body.ts OUT_FILE [N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app";
import { buildDeps, firstRun, openDataDir } from "../src/boot";
import { loadConfig } from "../src/config";
import { createFetchHandler } from "../src/http/server";
import { createLogger } from "../src/lib/log";
import { systemClock } from "../src/lib/time";

const [out, n = "20000"] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "mailroom-bench-"));
const config = loadConfig({ MAILROOM_DATA_DIR: dir, MAILROOM_RATE_LIMIT_GENERAL: "100000000" });
const { database } = openDataDir(config);

// Count every execution of every statement prepared on the connection (drizzle's included).
let executions = 0;
const prepare = database.raw.prepare.bind(database.raw);
database.raw.prepare = (sql: string) => {
  const stmt = prepare(sql);
  for (const method of ["get", "all", "run", "values"] as const) {
    const original = (stmt as never as Record<string, Function>)[method];
    if (original) (stmt as never as Record<string, Function>)[method] = (...args: unknown[]) => (executions++, original.apply(stmt, args));
  }
  return stmt;
};

const deps = buildDeps(config, database, createLogger(() => {}), systemClock);
const seeded = (await firstRun(deps))!;
const fetch = createFetchHandler(createApp(deps), deps);
const server = { requestIP: () => ({ address: "127.0.0.1" }) } as never;
const request = () => new Request("http://127.0.0.1/api/v1/whoami", { headers: { authorization: `Bearer ${seeded.token}` } });

const first = await fetch(request(), server);
await Bun.write(out, await first.text());
for (let i = 0; i < 100; i++) await fetch(request(), server); // warm the caches
const before = executions;
const total = Number(n);
for (let i = 0; i < total; i++) await fetch(request(), server);
const perRequest = (executions - before) / total;
console.log(JSON.stringify({ requests: total, statements: executions - before, statements_per_request: perRequest }));
deps.database.close();
rmSync(dir, { recursive: true, force: true });
