/**
 * GET /metrics on a real server: the Prometheus text format with every family, requests counted by
 * route template, auth failures by reason, 429s by bucket, the outbox depth from the database,
 * deliveries after a real delivery tick to an smtp-server sink, job metrics from the runner; and
 * who may scrape (loopback, or the metrics token from a remote client behind a trusted proxy).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { JobRunner } from "@/jobs/runner";
import { createMemoryLogger } from "@/lib/log";
import { generateToken } from "@/lib/tokens";
import { OUTBOX_DEPTH_SQL } from "@/metrics/metrics";
import { createTestToken } from "../fixtures";
import { fakeClock, startTestServer, type TestServer, type TestServerOptions } from "../harness";
import { defaultChannelId, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import { eventually } from "../smtp/helpers";

const FAMILIES = [
  ["mailroom_http_requests_total", "counter"],
  ["mailroom_auth_failures_total", "counter"],
  ["mailroom_rate_limit_rejections_total", "counter"],
  ["mailroom_outbox_messages", "gauge"],
  ["mailroom_deliveries_total", "counter"],
  ["mailroom_job_lag_seconds", "gauge"],
  ["mailroom_job_interval_seconds", "gauge"],
  ["mailroom_job_tick_duration_seconds", "histogram"],
  ["mailroom_job_failures_total", "counter"],
];
const METRICS_TOKEN = "scrape-secret-0123456789abcdef";
const REMOTE = { "x-forwarded-for": "198.51.100.7" };

let server: TestServer | null = null;
let outbox: OutboxTest | null = null;
afterEach(async () => {
  await server?.stop();
  await outbox?.stop();
  server = outbox = null;
});

const start = async (options: TestServerOptions = {}) => (server = await startTestServer(options));

/** The value of the first sample of `name` whose labels include `labels`; undefined when none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(s: TestServer, headers: Record<string, string> = {}): Promise<string> {
  const res = await s.request("GET", "/metrics", { token: null, headers });
  expect(res.status).toBe(200);
  return res.text;
}

describe("happy", () => {
  test("from loopback: 200 in the Prometheus text format with every family", async () => {
    const s = await start();
    const res = await s.request("GET", "/metrics", { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    for (const [name, type] of FAMILIES) expect(res.text).toContain(`# TYPE ${name} ${type}\n`);
    // Known label values start at zero, so rates work from the first scrape.
    expect(sample(res.text, "mailroom_auth_failures_total", { reason: "expired" })).toBe(0);
    expect(sample(res.text, "mailroom_rate_limit_rejections_total", { bucket: "send" })).toBe(0);
    expect(sample(res.text, "mailroom_outbox_messages", { lane: "bulk", state: "due" })).toBe(0);
  });

  test("requests are counted by method, route template and status; unrouted ones as `unmatched`", async () => {
    const s = await start();
    await s.request("GET", "/api/v1/whoami");
    await s.request("GET", "/api/v1/whoami.json");
    await s.request("GET", "/api/v1/whoami", { token: null });
    for (const id of [98765, 98766]) expect((await s.request("GET", `/api/v1/templates/${id}`)).status).toBe(404);
    expect((await s.request("GET", "/no/such/page")).status).toBe(404);
    await s.request("GET", "/healthz");
    const text = await scrape(s);
    expect(sample(text, "mailroom_http_requests_total", { method: "GET", route: "/api/v1/whoami", status: "200" })).toBe(2);
    expect(sample(text, "mailroom_http_requests_total", { method: "GET", route: "/api/v1/whoami", status: "401" })).toBe(1);
    expect(sample(text, "mailroom_http_requests_total", { method: "GET", route: "/api/v1/templates/:id", status: "404" })).toBe(2);
    expect(sample(text, "mailroom_http_requests_total", { method: "GET", route: "unmatched", status: "404" })).toBe(1);
    expect(sample(text, "mailroom_http_requests_total", { method: "GET", route: "/healthz", status: "200" })).toBe(1);
    // Raw paths never become labels (bounded cardinality).
    expect(text).not.toContain("98765");
    expect(text).not.toContain("/no/such/page");
  });

  test("authentication failures are counted by reason", async () => {
    const clock = fakeClock(Date.now());
    const s = await start({ clock, env: { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } });
    const whoami = (authorization: string | null, path = "/api/v1/whoami") =>
      s.request("GET", path, { token: null, headers: { ...(authorization ? { authorization } : {}), ...REMOTE } });
    expect((await whoami(null)).status).toBe(401);
    expect((await whoami("Bearer nope")).status).toBe(401);
    expect((await whoami(`Bearer ${generateToken()}`)).status).toBe(401);
    const expiring = createTestToken(s.deps, { preset: "transactional", expires_at: clock.now() + 1000 });
    clock.advance(1001);
    expect((await whoami(`Bearer ${expiring}`)).status).toBe(401);
    const pinned = createTestToken(s.deps, { preset: "transactional", allowed_ips: ["203.0.113.0/24"] });
    expect((await whoami(`Bearer ${pinned}`)).status).toBe(403);
    expect((await whoami(`Bearer ${s.adminToken}`, "/api/v1/whoami?api_key=x")).status).toBe(401);
    const text = await scrape(s);
    for (const reason of ["missing", "malformed", "invalid", "expired", "ip_not_allowed", "api_key_param"]) {
      expect([reason, sample(text, "mailroom_auth_failures_total", { reason })]).toEqual([reason, 1]);
    }
  });

  test("429s are counted by bucket: general, send, and failed authentications per IP", async () => {
    const s = await start({ env: { MAILROOM_RATE_LIMIT_GENERAL: "2", MAILROOM_RATE_LIMIT_SEND: "1", MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await s.request("GET", "/api/v1/whoami")).status);
    expect(statuses).toEqual([200, 200, 429]);
    const send = () => s.request("POST", "/api/v1/transactionals", { token: s.defaultToken, body: { to: "ada@example.com", subject: "Hi", body: "<p>Hi</p>" } });
    expect((await send()).status).toBe(201);
    expect((await send()).status).toBe(429);
    let last = 0;
    for (let i = 0; i < 31; i++) last = (await s.request("GET", "/api/v1/whoami", { token: null, headers: REMOTE })).status;
    expect(last).toBe(429);
    const text = await scrape(s);
    expect(sample(text, "mailroom_rate_limit_rejections_total", { bucket: "general" })).toBe(1);
    expect(sample(text, "mailroom_rate_limit_rejections_total", { bucket: "send" })).toBe(1);
    expect(sample(text, "mailroom_rate_limit_rejections_total", { bucket: "failed_auth" })).toBe(1);
    expect(sample(text, "mailroom_http_requests_total", { method: "POST", route: "/api/v1/transactionals", status: "429" })).toBe(1);
  });
});

describe("outbox and jobs", () => {
  test("outbox depth: messages still to deliver by lane and state (due, scheduled, in flight), read through indexes", async () => {
    outbox = await startOutboxTest();
    const { clock, server: s } = outbox;
    const depth = async () => {
      const text = await scrape(s);
      const out: Record<string, number | undefined> = {};
      for (const lane of ["priority", "bulk"]) for (const state of ["due", "scheduled", "in_flight"]) out[`${lane} ${state}`] = sample(text, "mailroom_outbox_messages", { lane, state });
      return out;
    };
    for (let i = 0; i < 3; i++) await outbox.send();
    const channelId = defaultChannelId(outbox);
    outbox.enqueueBulk(channelId, 5);
    const later = { channel_id: channelId, kind: "broadcast" as const, source: "broadcast", status: "queued" as const, recipient_email: "later@example.com", subject: "Later", body: "<p>Later</p>" };
    s.deps.db.transaction(() => s.deps.outbox.enqueue([{ ...later, queue_at: clock.now() + 3_600_000 }], clock.now()));
    expect(await depth()).toEqual({ "priority due": 3, "priority scheduled": 0, "priority in_flight": 0, "bulk due": 5, "bulk scheduled": 1, "bulk in_flight": 0 });
    // Delivered (to local capture: no email server yet) → no longer counted; the later one waits.
    await outbox.tick();
    await outbox.tick();
    expect(sample(await scrape(s), "mailroom_deliveries_total", { outcome: "sent", server: "capture" })).toBe(8);
    await outbox.send();
    await outbox.send();
    expect(s.deps.outbox.claim(clock.now(), clock.now() + 60_000, 50, 0)).toHaveLength(2);
    expect(await depth()).toEqual({ "priority due": 0, "priority scheduled": 0, "priority in_flight": 2, "bulk due": 0, "bulk scheduled": 1, "bulk in_flight": 0 });
    const plan = (sql: string, ...params: unknown[]) => s.sql(`EXPLAIN QUERY PLAN ${sql}`, ...params).map((r) => r.detail).join(" | ");
    expect(plan(OUTBOX_DEPTH_SQL.waiting, clock.now())).toMatch(/USING (COVERING )?INDEX messages_claim_(priority|bulk)_idx/);
    expect(plan(OUTBOX_DEPTH_SQL.inFlight)).toContain("USING INDEX messages_lease_idx");
  });

  test("deliveries are counted by outcome and email server once recorded", async () => {
    outbox = await startOutboxTest();
    const sink = await outbox.sink();
    const emailServer = await outbox.addServer(sink.port);
    await outbox.send({ to: "ada@example.com" });
    await outbox.send({ to: "grace@example.com" });
    sink.refuse({ at: "rcpt", code: 550, recipients: ["nobody@example.com"] });
    await outbox.send({ to: "nobody@example.com" });
    await outbox.tick();
    const text = await scrape(outbox.server);
    expect(sample(text, "mailroom_deliveries_total", { outcome: "sent", server: String(emailServer.id) })).toBe(2);
    expect(sample(text, "mailroom_deliveries_total", { outcome: "bounced", server: String(emailServer.id) })).toBe(1);
  });

  test("the running job loops report ticks, intervals and lag for every job", async () => {
    const s = await start();
    const text = await eventually(async () => {
      const t = await scrape(s);
      return (sample(t, "mailroom_job_tick_duration_seconds_count", { job: "delivery" }) ?? 0) >= 1 ? t : null;
    });
    for (const job of ["delivery", "audit_log.retention", "events.retention", "admin_sessions.retention", "idempotency_keys.retention"]) {
      expect(sample(text, "mailroom_job_interval_seconds", { job })).toBeGreaterThan(0);
      expect(sample(text, "mailroom_job_lag_seconds", { job })).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, "mailroom_job_interval_seconds", { job: "delivery" })).toBe(1);
    expect(sample(text, "mailroom_job_failures_total", { job: "delivery" })).toBe(0);
  });

  test("a failing job: failures counted, lag grows from its last successful tick", async () => {
    const clock = fakeClock();
    const s = await start({ clock, startJobs: false });
    let ticks = 0;
    const runner = new JobRunner(createMemoryLogger(), clock, s.deps.metrics.jobs);
    runner.add({
      name: "flaky",
      intervalMs: 5,
      tick: () => {
        if (++ticks === 2) throw new Error("disk I/O error");
        return false;
      },
    });
    runner.start();
    await eventually(() => ticks >= 3);
    await runner.stop(1000);
    clock.advance(90_000);
    const text = await scrape(s);
    expect(sample(text, "mailroom_job_failures_total", { job: "flaky" })).toBe(1);
    expect(sample(text, "mailroom_job_tick_duration_seconds_count", { job: "flaky" })).toBe(ticks);
    expect(sample(text, "mailroom_job_lag_seconds", { job: "flaky" })).toBe(90);
  });
});

describe("access", () => {
  const remoteServer = (token?: string) =>
    start({ env: { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32", ...(token ? { MAILROOM_METRICS_TOKEN: token } : {}) } });

  test("a remote client without the token → 403 in the JSON error shape; with it → 200", async () => {
    const s = await remoteServer(METRICS_TOKEN);
    const refused = await s.request("GET", "/metrics", { token: null, headers: REMOTE });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(refused.body).toEqual({ error: "Forbidden", message: "Metrics are served to loopback clients, or with the bearer token set in MAILROOM_METRICS_TOKEN" });
    const allowed = await s.request("GET", "/metrics", { token: METRICS_TOKEN, headers: REMOTE });
    expect(allowed.status).toBe(200);
    expect(allowed.text).toContain("# TYPE mailroom_http_requests_total counter");
    // Loopback needs no token even when one is set.
    expect((await s.request("GET", "/metrics", { token: null })).status).toBe(200);
  });

  test("a wrong token → 403, counted as a failed authentication; the token never reaches the log", async () => {
    const s = await remoteServer(METRICS_TOKEN);
    for (const wrong of [METRICS_TOKEN.slice(0, -1), METRICS_TOKEN + "x", s.adminToken]) {
      const res = await s.request("GET", "/metrics", { token: wrong, headers: REMOTE });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: "Forbidden", message: "Invalid metrics token" });
    }
    const text = await scrape(s, { authorization: `Bearer ${METRICS_TOKEN}`, ...REMOTE });
    expect(sample(text, "mailroom_auth_failures_total", { reason: "metrics_token" })).toBe(3);
    expect(sample(text, "mailroom_http_requests_total", { route: "/metrics", status: "403" })).toBe(3);
    expect(s.log.text()).not.toContain(METRICS_TOKEN);
    expect(s.log.text()).toContain('"path":"/metrics"');
  });

  test("with no token configured, a remote client is refused whatever it sends", async () => {
    const s = await remoteServer();
    for (const token of [null, METRICS_TOKEN]) {
      const res = await s.request("GET", "/metrics", { token, headers: REMOTE });
      expect(res.status).toBe(403);
    }
  });
});
