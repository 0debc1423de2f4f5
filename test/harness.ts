/**
 * startTestServer(): a real instance on a temp data dir — migrated SQLite file, first-run seed,
 * real HTTP on an ephemeral port — plus helpers to call it. Every test stops what it starts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDeps, firstRun, openDataDir } from "@/boot";
import { loadConfig, type Config } from "@/config";
import type { Deps } from "@/deps";
import { createMemoryLogger } from "@/lib/log";
import type { Clock } from "@/lib/time";
import { startMailroom, type Running } from "@/runtime";
import { createTestToken } from "./fixtures";
import { checkResponse } from "./response-validator";

export interface TestServer {
  url: string;
  /** Ephemeral ports of the SMTP submission listener and the local capture server. */
  smtpPort: number;
  capturePort: number | null;
  dataDir: string;
  deps: Deps;
  running: Running;
  /** The first-run "Default transactional token". */
  defaultToken: string;
  /** Scope `all`, every permission. */
  adminToken: string;
  log: ReturnType<typeof createMemoryLogger>;
  /** A request with the admin token by default; the response is checked against the OpenAPI document (response-validator.ts). */
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** `fetch(url + path)`, the response checked against the OpenAPI document like `request`'s. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Rows of a raw SQL query against the server's database (assert on what was stored). */
  sql(query: string, ...params: unknown[]): any[];
  stop(): Promise<void>;
}

export interface RequestOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** A clock tests can move. */
export function fakeClock(start = Date.UTC(2026, 0, 15, 10, 30)): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms), set: (ms) => void (now = ms) };
}

export function tempDir(prefix = "mailroom-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A port free right now (the OS picks it; nothing is fixed). */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  clock?: Clock;
  dataDir?: string;
  /** false: no background loops; the test steps jobs (`running.delivery`, `running.jobs.get(name)`) by hand. */
  startJobs?: boolean;
  /** true: the delivery thread as in production (its sender, and the webhook jobs when jobs start); default false. */
  deliveryThread?: boolean;
  /** Serve on a known free port with MAILROOM_PUBLIC_URL = the server's URL, so the dashboard's Origin check passes. */
  dashboard?: boolean;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const port = options.dashboard ? freePort() : 0;
  const config: Readonly<Config> = loadConfig({
    MAILROOM_DATA_DIR: dataDir,
    MAILROOM_HOST: "127.0.0.1",
    MAILROOM_PORT: String(port),
    ...(options.dashboard ? { MAILROOM_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    MAILROOM_SMTP_HOST: "127.0.0.1",
    MAILROOM_SMTP_PORT: "0",
    MAILROOM_CAPTURE_PORT: "0",
    MAILROOM_ADMIN_PASSWORD: "test-admin-password",
    MAILROOM_SHUTDOWN_TIMEOUT_MS: "2000",
    ...options.env,
  });
  const log = createMemoryLogger();
  const { database } = openDataDir(config, log);
  const deps = buildDeps(config, database, log, options.clock ?? { now: () => Date.now() });
  const seeded = await firstRun(deps);
  // Delivery runs in this thread unless asked, so tests can step it with `running.delivery.tick(now)`.
  const running = await startMailroom(deps, { smtpPort: 0, deliveryThread: options.deliveryThread ?? false, startJobs: options.startJobs });
  const url = running.http.url;
  const adminToken = createTestToken(deps, { name: "test admin", preset: "all", scope: "all" });
  return {
    url,
    smtpPort: running.smtpPort!,
    capturePort: running.capturePort,
    dataDir,
    deps,
    running,
    defaultToken: seeded?.token ?? "",
    adminToken,
    log,
    async request(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const token = o.token === undefined ? adminToken : o.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (o.body !== undefined) {
        body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
        headers["content-type"] ??= "application/json";
      }
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      checkResponse(deps, method, path, res.status, res.headers.get("content-type"), text);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async fetch(path, init = {}) {
      const res = await fetch(url + path, init);
      const text = await res.text();
      checkResponse(deps, init.method ?? "GET", path, res.status, res.headers.get("content-type"), text);
      return new Response(text === "" ? null : text, { status: res.status, statusText: res.statusText, headers: res.headers });
    },
    sql: (query, ...params) => database.raw.prepare(query).all(...params) as any[],
    async stop() {
      await running.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
