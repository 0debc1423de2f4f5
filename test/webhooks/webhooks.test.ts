/**
 * Webhooks end to end (docs/api-reference.md §11) on a real server and a real local HTTP receiver that checks
 * every signature with its own node:crypto implementation and refuses stale timestamps. Jobs are
 * stepped by hand with the fake clock; DNS is faked at the edge only.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import { WebhookDeliveryJob } from "@/features/webhooks/delivery";
import { fakeClock, startTestServer, type TestServer } from "../harness";

interface Received {
  headers: Headers;
  body: any;
}

/** A receiver answering `statuses` in turn (then the last one); it verifies like an integrator would. */
function startReceiver(clock: { now(): number }, statuses: number[]) {
  const received: Received[] = [];
  const rejected: string[] = [];
  let secret = "";
  let i = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const raw = await req.text();
      const ts = Number(req.headers.get("broadcast-webhook-timestamp"));
      const expected = Buffer.from(`v1,${createHmac("sha256", Buffer.from(secret, "utf8")).update(`${ts}.${raw}`).digest("base64")}`);
      const given = Buffer.from(req.headers.get("x-broadcast-signature") ?? "");
      if (Math.abs(clock.now() / 1000 - ts) > 300) return rejected.push("stale"), new Response("stale", { status: 400 });
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return rejected.push("signature"), new Response("bad signature", { status: 400 });
      received.push({ headers: req.headers, body: JSON.parse(raw) });
      const status = statuses[Math.min(i++, statuses.length - 1)];
      return new Response(status === 302 ? "" : `answer ${status} ${"x".repeat(2000)}`, { status, headers: status === 302 ? { location: "https://example.com/" } : {} });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/hook`, received, rejected, setSecret: (s: string) => void (secret = s), stop: () => server.stop(true) };
}

let s: TestServer;
let clock: ReturnType<typeof fakeClock>;
beforeEach(async () => {
  clock = fakeClock(Date.now());
  s = await startTestServer({ clock, startJobs: false, env: { MAILROOM_ALLOW_HTTP_WEBHOOKS: "1" } });
});
afterEach(() => s.stop());

const createEndpoint = (body: Record<string, unknown>) => s.request("POST", "/api/v1/webhook_endpoints", { body: { channel: "default", webhook_endpoint: body } });
const subscribe = (email: string) => s.request("POST", "/api/v1/subscribers", { body: { channel: "default", email } });
const dispatch = () => s.running.jobs.get("webhooks.dispatch")!.tick(clock.now());
const deliver = () => s.running.jobs.get("webhooks.delivery")!.tick(clock.now());

describe("endpoints", () => {
  test("create shows the secret once, drops unknown types, masks afterwards; patch, delete", async () => {
    const res = await createEndpoint({ url: "https://hooks.example.com/in", event_types: ["subscriber.created", "nope.type"], description: "crm" });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_[0-9A-Za-z]{32}$/);
    expect(res.body).toMatchObject({ channel: "default", active: true, retries_to_attempt: 6, event_types: ["subscriber.created"] });
    expect(res.body.warnings).toEqual([{ code: "parameter_ignored", param: "webhook_endpoint.event_types.1", message: expect.any(String) }]);
    const shown = await s.request("GET", `/api/v1/webhook_endpoints/${res.body.id}`);
    expect(shown.body.secret).toBe(`${res.body.secret.slice(0, 4)}••••••••${res.body.secret.slice(-4)}`);
    expect(JSON.stringify(s.sql("SELECT * FROM webhook_endpoints"))).not.toContain(res.body.secret);
    const patched = await s.request("PATCH", `/api/v1/webhook_endpoints/${res.body.id}`, { body: { url: "https://other.example.com", active: false } });
    expect(patched.body).toMatchObject({ url: "https://hooks.example.com/in", active: false });
    expect(patched.body.warnings[0]).toMatchObject({ code: "parameter_ignored", param: "url" });
    expect((await s.request("DELETE", `/api/v1/webhook_endpoints/${res.body.id}`)).body).toEqual({ message: "Webhook endpoint deleted successfully" });
    expect((await s.request("GET", `/api/v1/webhook_endpoints/${res.body.id}`)).status).toBe(404);
  });

  test("bad input: no known type, plain http, private literal, the 21st endpoint", async () => {
    expect((await createEndpoint({ url: "https://a.example.com", event_types: ["x.y"] })).status).toBe(422);
    const http = await createEndpoint({ url: "http://a.example.com", event_types: ["subscriber.created"] });
    expect(http.status).toBe(422);
    expect(http.body.errors.url).toEqual(["must use https"]);
    expect((await createEndpoint({ url: "https://10.0.0.5/x", event_types: ["subscriber.created"] })).status).toBe(422);
    expect((await createEndpoint({ url: "https://169.254.169.254/", event_types: ["subscriber.created"] })).status).toBe(422);
    for (let i = 0; i < 20; i++) expect((await createEndpoint({ url: `https://h${i}.example.com`, event_types: ["subscriber.created"] })).status).toBe(201);
    expect((await createEndpoint({ url: "https://h21.example.com", event_types: ["subscriber.created"] })).status).toBe(422);
  });
});

describe("delivery", () => {
  test("signed with both header sets; 500 then 200 retried on the schedule; log", async () => {
    const receiver = startReceiver(clock, [500, 200]);
    try {
      const endpoint = (await createEndpoint({ url: receiver.url, event_types: ["subscriber.created"] })).body;
      receiver.setSecret(endpoint.secret);
      await subscribe("ada@example.com");
      await dispatch();
      await deliver();
      expect(receiver.received).toHaveLength(1);
      const first = receiver.received[0];
      const event = s.sql("SELECT id FROM events WHERE type = 'subscriber.created'")[0];
      expect(first.body).toMatchObject({ id: event.id, type: "subscriber.created", data: { channel: "default", subscriber: { email: "ada@example.com" } } });
      expect(first.headers.get("broadcast-webhook-signature")).toBe(first.headers.get("x-broadcast-signature"));
      expect(first.headers.get("broadcast-webhook-id")).toBe(String(event.id));
      expect(first.headers.get("user-agent")).toBe("Mailroom-Webhooks/1.0");
      expect(first.headers.get("x-mailroom-attempt")).toBe("1");
      // Not due yet: nothing is sent; 30 s (±10 %) later it is, re-signed with a fresh timestamp.
      clock.advance(20_000);
      await deliver();
      expect(receiver.received).toHaveLength(1);
      clock.advance(15_000);
      await deliver();
      expect(receiver.received).toHaveLength(2);
      expect(receiver.received[1].headers.get("x-mailroom-attempt")).toBe("2");
      expect(receiver.received[1].headers.get("broadcast-webhook-timestamp")).not.toBe(first.headers.get("broadcast-webhook-timestamp"));
      expect(receiver.rejected).toEqual([]);
      const log = await s.request("GET", `/api/v1/webhook_endpoints/${endpoint.id}/deliveries`);
      expect(log.body.data).toHaveLength(1);
      const [d] = log.body.data;
      expect(d).toMatchObject({ event_id: event.id, status: "succeeded", attempts: 2, response_status: 200, test: false, error: null });
      expect(Buffer.byteLength(d.response_body_excerpt)).toBeLessThanOrEqual(1024);
      expect((await s.request("GET", `/api/v1/webhook_endpoints/${endpoint.id}`)).body.last_response_code).toBe(200);
      expect(s.log.text()).not.toContain(endpoint.secret);
    } finally {
      receiver.stop();
    }
  });

  test("retries to exhaustion, then one message.attempt.exhausted", async () => {
    const receiver = startReceiver(clock, [503]);
    try {
      const endpoint = (await createEndpoint({ url: receiver.url, event_types: ["subscriber.created", "message.attempt.exhausted"], retries_to_attempt: 2 })).body;
      receiver.setSecret(endpoint.secret);
      await subscribe("ada@example.com");
      await dispatch();
      for (let i = 0; i < 3; i++) {
        await deliver();
        clock.advance(3 * 60 * 60 * 1000);
      }
      const [d] = s.sql("SELECT status, attempts, response_status FROM webhook_deliveries ORDER BY id");
      expect(d).toEqual({ status: "exhausted", attempts: 3, response_status: 503 });
      const exhausted = s.sql("SELECT data FROM events WHERE type = 'message.attempt.exhausted'");
      expect(exhausted).toHaveLength(1);
      expect(JSON.parse(exhausted[0].data)).toMatchObject({ webhook_endpoint_id: endpoint.id, attempts: 3, last_response_status: 503, event_type: "subscriber.created" });
      // The exhaustion event goes to the failing endpoint too; its own exhaustion emits nothing more.
      await dispatch();
      for (let i = 0; i < 3; i++) {
        await deliver();
        clock.advance(3 * 60 * 60 * 1000);
      }
      expect(s.sql("SELECT count(*) AS n FROM events WHERE type = 'message.attempt.exhausted'")[0].n).toBe(1);
      expect(receiver.received.map((r) => r.body.type)).toEqual([...Array(3).fill("subscriber.created"), ...Array(3).fill("message.attempt.exhausted")]);
    } finally {
      receiver.stop();
    }
  });

  test("410 disables the endpoint; a redirect is not followed; test sends once", async () => {
    const receiver = startReceiver(clock, [302, 410]);
    try {
      const endpoint = (await createEndpoint({ url: receiver.url, event_types: ["subscriber.created"] })).body;
      receiver.setSecret(endpoint.secret);
      const probe = await s.request("POST", `/api/v1/webhook_endpoints/${endpoint.id}/test`);
      expect(probe.status).toBe(200);
      expect(probe.body).toMatchObject({ success: false, response_status: 302, error: "redirect_not_followed" });
      expect(receiver.received[0].body).toMatchObject({ type: "test.webhook", data: { webhook_endpoint_id: endpoint.id, message: "Test webhook from Mailroom" } });
      await subscribe("ada@example.com");
      await dispatch();
      await deliver();
      expect((await s.request("GET", `/api/v1/webhook_endpoints/${endpoint.id}`)).body.active).toBe(false);
      const log = (await s.request("GET", `/api/v1/webhook_endpoints/${endpoint.id}/deliveries`)).body.data;
      expect(log.map((d: any) => [d.test, d.status, d.response_status])).toEqual([[true, "failed", 302], [false, "cancelled", 410]]);
    } finally {
      receiver.stop();
    }
  });

  test("a receiver that is down, then one slower than 10 s: failed with a retry scheduled, nothing lost", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const downUrl = `http://127.0.0.1:${closed.port}/hook`;
    closed.stop(true);
    const slow = Bun.serve({ port: 0, hostname: "127.0.0.1", idleTimeout: 30, fetch: () => new Promise<Response>((resolve) => setTimeout(() => resolve(new Response("late")), 11_000)) });
    try {
      const down = (await createEndpoint({ url: downUrl, event_types: ["subscriber.created"] })).body;
      const late = (await createEndpoint({ url: `http://127.0.0.1:${slow.port}/hook`, event_types: ["subscriber.created"] })).body;
      await subscribe("ada@example.com");
      await dispatch();
      await deliver();
      const rows = s.sql("SELECT endpoint_id, status, error, attempts, next_attempt_at FROM webhook_deliveries ORDER BY endpoint_id");
      expect(rows.map((r) => [r.endpoint_id, r.status, r.attempts])).toEqual([[down.id, "failed", 1], [late.id, "failed", 1]]);
      expect(rows[0].error).toStartWith("connection_failed");
      expect(rows[1].error).toBe("timeout");
      for (const r of rows) expect(r.next_attempt_at).toBeGreaterThan(clock.now());
    } finally {
      slow.stop(true);
    }
  }, 20_000);

  test("test with another event type sends that type's sample data, marked test", async () => {
    const receiver = startReceiver(clock, [200]);
    try {
      const endpoint = (await createEndpoint({ url: receiver.url, event_types: ["subscriber.created"], active: false })).body;
      receiver.setSecret(endpoint.secret);
      const res = await s.request("POST", `/api/v1/webhook_endpoints/${endpoint.id}/test`, { body: { event_type: "email.delivered" } });
      expect(res.body).toMatchObject({ success: true, response_status: 200 });
      const [got] = receiver.received;
      expect(got.body).toMatchObject({ id: res.body.delivery_id, type: "email.delivered", data: { channel: "default", test: true, recipient_email: expect.any(String) } });
      expect(got.headers.get("broadcast-webhook-id")).toBe(`test-${res.body.delivery_id}`);
      expect((await s.request("POST", `/api/v1/webhook_endpoints/${endpoint.id}/test`, { body: { event_type: "nope" } })).status).toBe(422);
    } finally {
      receiver.stop();
    }
  });

  test("at most 4 attempts in flight per endpoint", async () => {
    let inFlight = 0;
    let most = 0;
    const ids: number[] = [];
    const receiver = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        most = Math.max(most, ++inFlight);
        ids.push(((await req.json()) as { id: number }).id);
        await Bun.sleep(30); // a receiver that takes a while: attempts overlap
        inFlight--;
        return new Response("ok");
      },
    });
    try {
      await createEndpoint({ url: `http://127.0.0.1:${receiver.port}/hook`, event_types: ["subscriber.created"] });
      for (let i = 0; i < 12; i++) await subscribe(`s${i}@example.com`);
      await dispatch();
      await deliver();
      expect(ids).toHaveLength(12);
      expect(most).toBe(4);
    } finally {
      receiver.stop(true);
    }
  });

  test("the outcomes of a tick are committed together, not one commit per attempt", async () => {
    const r = startReceiver(clock, [200]);
    try {
      r.setSecret((await createEndpoint({ url: r.url, event_types: ["subscriber.created"] })).body.secret);
      for (let i = 0; i < 20; i++) await subscribe(`c${i}@example.com`);
      await dispatch();
      // Pages written by the tick: every commit appends each page it changed to the WAL again. The
      // outcomes wait for the tick's end here, whatever the speed of the machine.
      const job = new WebhookDeliveryJob(s.deps, { recordGatherMs: 60_000 });
      s.sql("PRAGMA wal_checkpoint(TRUNCATE)");
      await job.tick(clock.now());
      const [{ log }] = s.sql("PRAGMA wal_checkpoint(PASSIVE)");
      expect(r.received).toHaveLength(20);
      expect(s.sql("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'succeeded'")[0].n).toBe(20);
      // One commit per attempt wrote ~80 pages here; the claim and one commit of outcomes write ~18.
      expect(log).toBeLessThan(40);
    } finally {
      r.stop();
    }
  });

  test("a delivery that cannot be attempted (unreadable secret) is due again later, not stuck claimed", async () => {
    const endpoint = (await createEndpoint({ url: "http://127.0.0.1:9/hook", event_types: ["subscriber.created"] })).body;
    s.sql("UPDATE webhook_endpoints SET secret_enc = 'garbage' WHERE id = ?", endpoint.id);
    await subscribe("ada@example.com");
    await dispatch();
    await deliver();
    const [d] = s.sql("SELECT status, attempts, next_attempt_at FROM webhook_deliveries");
    expect(d).toEqual({ status: "pending", attempts: 0, next_attempt_at: clock.now() + 30_000 });
    expect(s.log.lines().find((l) => l.event === "webhooks.delivery_failed")).toMatchObject({ endpoint_id: endpoint.id });
  });

  test("the delivery log is kept MAILROOM_EVENT_RETENTION_DAYS", async () => {
    const receiver = startReceiver(clock, [200]);
    try {
      const endpoint = (await createEndpoint({ url: receiver.url, event_types: ["subscriber.created"] })).body;
      receiver.setSecret(endpoint.secret);
      await s.request("POST", `/api/v1/webhook_endpoints/${endpoint.id}/test`);
      clock.advance(91 * 86_400_000);
      await s.request("POST", `/api/v1/webhook_endpoints/${endpoint.id}/test`);
      await s.running.jobs.get("webhooks.retention")!.tick(clock.now());
      expect(s.sql("SELECT created_at FROM webhook_deliveries")).toEqual([{ created_at: clock.now() }]);
    } finally {
      receiver.stop();
    }
  });

  test("SSRF: a host name resolving to loopback is refused per attempt (blocked_address)", async () => {
    await s.stop();
    s = await startTestServer({ clock, startJobs: false });
    const receiver = startReceiver(clock, [200]);
    try {
      const port = new URL(receiver.url).port;
      const endpoint = (await createEndpoint({ url: `https://hooks.example.test:${port}/hook`, event_types: ["subscriber.created"] })).body;
      await subscribe("ada@example.com");
      await dispatch();
      const job = new WebhookDeliveryJob(s.deps, { lookup: async () => [{ address: "127.0.0.1", family: 4 }] });
      await job.tick(clock.now());
      const [d] = s.sql("SELECT status, error, attempts FROM webhook_deliveries WHERE endpoint_id = ?", endpoint.id);
      expect(d).toEqual({ status: "failed", error: "blocked_address", attempts: 1 });
      expect(receiver.received).toEqual([]);
    } finally {
      receiver.stop();
    }
  });
});
