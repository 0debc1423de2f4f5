/**
 * The delivery job end to end: real HTTP sends, the real job stepped with tick(now), nodemailer
 * pools to real SMTP sinks on ephemeral ports, a fake clock for retries.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { email_servers, events, messages, suppressions } from "@/db/schema";
import { DeliveryJob } from "@/outbox/delivery-job";
import { NO_ROUTE_RECHECK_MS } from "@/outbox/destinations";
import { RETRY_WINDOW } from "@/outbox/outcomes";
import { SmtpTransport } from "@/outbox/transport-smtp";
import { verifyLink } from "@/lib/links";
import { linkSecret } from "@/db/settings";
import { fakeClock, startTestServer, type TestServer } from "../harness";
import { selfSignedCert, startSmtpSink, type SmtpSink } from "../smtp-sink";

let server: TestServer;
let clock: ReturnType<typeof fakeClock>;
const sinks: SmtpSink[] = [];

beforeEach(async () => {
  clock = fakeClock();
  // Step the job by hand: no background loop racing the assertions.
  server = await startTestServer({ clock, startJobs: false });
});

afterEach(async () => {
  await server.running.delivery!.sender.close();
  await server.stop();
  for (const s of sinks.splice(0)) await s.stop();
});

async function sink(options: Parameters<typeof startSmtpSink>[0] = {}) {
  const s = await startSmtpSink(options);
  sinks.push(s);
  return s;
}

async function addServer(port: number, fields: Record<string, unknown> = {}) {
  const res = await server.request("POST", "/api/v1/email_servers", {
    body: { channel: "default", email_server: { label: `sink ${port}`, smtp_address: "127.0.0.1", smtp_port: port, smtp_enable_starttls_auto: false, ...fields } },
  });
  expect(res.status).toBe(201);
  return res.body;
}

async function send(body: Record<string, unknown> = {}) {
  const res = await server.request("POST", "/api/v1/transactionals", {
    token: server.defaultToken,
    body: { to: "Ada Lovelace <ada@example.com>", subject: "Receipt {{ data.n }}", body: "<p>Thanks, order {{ data.n }}</p>", data: { n: 42 }, ...body },
  });
  expect(res.status).toBe(201);
  return res.body;
}

const row = (id: number) => server.deps.db.select().from(messages).where(eq(messages.id, id)).get()!;
const eventTypes = (id: number) =>
  server.deps.db.select().from(events).where(eq(events.transactional_id, id)).all().map((e) => e.type);
/** One tick of the delivery job; returns how many messages it settled. */
const tick = async (job: DeliveryJob = server.running.delivery!) => {
  const before = server.sql("SELECT count(*) AS n FROM messages WHERE lease_expires_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?", clock.now())[0].n;
  await job.tick(clock.now());
  return before;
};

describe("happy", () => {
  test("delivers to the configured server: content, headers, envelope, events", async () => {
    const s = await sink();
    const srv = await addServer(s.port);
    const sent = await send({ include_unsubscribe_link: true, reply_to: "help@example.com", preheader: "Your order" });
    expect(await tick()).toBe(1);
    const [m] = await s.waitFor(1);
    expect(m.envelope).toEqual({ from: "noreply@localhost", to: ["ada@example.com"] });
    expect(m.parsed.subject).toBe("Receipt 42");
    expect(m.parsed.messageId).toBe(sent.message_id);
    expect(m.parsed.html).toContain("Thanks, order 42");
    expect(m.parsed.html).toContain("Your order");
    expect(m.parsed.text).toContain("Thanks, order 42");
    expect(m.header("from")).toBe("Mailroom <noreply@localhost>");
    expect(m.parsed.to).toMatchObject({ value: [{ name: "Ada Lovelace", address: "ada@example.com" }] });
    expect(m.header("reply-to")).toBe("help@example.com");
    const unsub = m.header("list-unsubscribe")!;
    expect(unsub).toMatch(/^<http:\/\/localhost:3000\/u\/[^>]+>$/);
    expect(verifyLink(linkSecret(server.deps), "unsub", unsub.slice(unsub.lastIndexOf("/") + 1, -1))).toEqual([0, sent.id]);
    expect(m.header("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    expect(m.header("x-mailroom-capture")).toBeUndefined();

    const r = row(sent.id);
    expect(r.status).toBe("sent");
    expect(r.email_server_id).toBe(srv.id);
    expect(r.lease_expires_at).toBeNull();
    expect(eventTypes(sent.id)).toEqual(["email.sent", "email.delivered"]);
    const get = await server.request("GET", `/api/v1/transactionals/${sent.id}`);
    expect(get.body.status).toBe("sent");
    expect(get.body.sent_at).toBe(new Date(clock.now()).toISOString());
  });

  test("no List-Unsubscribe unless asked, nor when the server disables it", async () => {
    const s = await sink();
    await addServer(s.port, { include_unsubscribe_header: false });
    await send();
    await send({ include_unsubscribe_link: true });
    expect(await tick()).toBe(2);
    const got = await s.waitFor(2);
    for (const m of got) expect(m.header("list-unsubscribe")).toBeUndefined();
  });

  test("fails over to the next server when the first one is down or refuses MAIL FROM", async () => {
    const refusing = await sink();
    refusing.refuse({ at: "mail", code: 550, message: "5.7.1 Relay denied" });
    const good = await sink();
    const dead = await sink();
    await dead.stop();
    sinks.splice(sinks.indexOf(dead), 1);
    const a = await addServer(dead.port, { priority: 1 });
    const b = await addServer(refusing.port, { priority: 5 });
    const c = await addServer(good.port, { priority: 10 });
    const sent = await send();
    await tick();
    await good.waitFor(1);
    expect(refusing.messages).toHaveLength(0);
    expect(row(sent.id).email_server_id).toBe(c.id);
    const servers = new Map(server.deps.db.select().from(email_servers).all().map((s) => [s.id, s]));
    expect(servers.get(a.id)!.connection_failed_at).not.toBeNull();
    expect(servers.get(a.id)!.last_error).toContain("ECONNREFUSED");
    expect(servers.get(b.id)!.last_error).toContain("Relay denied");
    expect(servers.get(c.id)!.connection_failed_at).toBeNull();
  });

  test("4xx is retried with backoff (1 m, then 5 m) and then delivered", async () => {
    const s = await sink();
    await addServer(s.port);
    s.refuse({ at: "rcpt", code: 451, message: "4.7.1 Greylisted", times: 2 });
    const sent = await send();
    await tick();
    let r = row(sent.id);
    expect(r.status).toBe("sending");
    expect(r.attempts).toBe(1);
    expect(r.next_attempt_at).toBe(clock.now() + 60_000);
    expect(eventTypes(sent.id)).toEqual(["email.delivery_delayed"]);
    const delayed = server.deps.db.select().from(events).where(eq(events.transactional_id, sent.id)).get()!;
    expect(delayed.data.smtp_response).toContain("Greylisted");
    expect(delayed.data.next_attempt_at).toBe(new Date(clock.now() + 60_000).toISOString());

    clock.advance(59_000);
    expect(await tick()).toBe(0);
    clock.advance(1_000);
    await tick();
    r = row(sent.id);
    expect(r.attempts).toBe(2);
    expect(r.next_attempt_at).toBe(clock.now() + 5 * 60_000);
    clock.advance(5 * 60_000);
    await tick();
    await s.waitFor(1);
    expect(row(sent.id).status).toBe("sent");
    expect(eventTypes(sent.id)).toEqual(["email.delivery_delayed", "email.delivery_delayed", "email.sent", "email.delivered"]);
  });

  test("capture is used when the channel has no server for the purpose", async () => {
    const sent = await send();
    await tick();
    expect(row(sent.id).status).toBe("sent");
    expect(row(sent.id).email_server_id).toBeNull();
    const list = await server.request("GET", "/api/v1/captured_messages");
    expect(list.body.data.map((c: { transactional_id: number }) => c.transactional_id)).toEqual([sent.id]);
  });

  test("emails_per_hour spreads mail to the next server", async () => {
    const a = await sink();
    const b = await sink();
    await addServer(a.port, { priority: 1, emails_per_hour: 1 });
    await addServer(b.port, { priority: 2 });
    await send();
    await send();
    await tick();
    await a.waitFor(1);
    await b.waitFor(1);
    await send();
    await tick();
    await b.waitFor(2);
    expect(a.messages).toHaveLength(1);
  });

  test("STARTTLS + AUTH to a server with a self-signed certificate", async () => {
    const cert = selfSignedCert();
    const s = await sink({ tls: cert, auth: { user: "relay", pass: "s3cret-pass" } });
    const srv = await addServer(s.port, { smtp_enable_starttls_auto: true, smtp_username: "relay", smtp_password: "s3cret-pass", smtp_authentication: "plain" });
    const sent = await send();
    // Untrusted certificate: a server problem, the message stays queued.
    await tick();
    expect(row(sent.id).status).toBe("queued");
    expect(server.deps.db.select().from(email_servers).where(eq(email_servers.id, srv.id)).get()!.last_error).toMatch(/certificate/i);
    // Trusting the relay's certificate, the session upgrades to TLS and authenticates.
    const trusting = new DeliveryJob(server.deps, { transport: new SmtpTransport({ ca: cert.cert }) });
    clock.advance(RETRY_WINDOW / 2);
    await trusting.tick(clock.now());
    const [m] = await s.waitFor(1);
    expect(m.secure).toBe(true);
    expect(m.user).toBe("relay");
    expect(row(sent.id).status).toBe("sent");
    await trusting.sender.close();
  });

  test("releaseLeases() (start-up) frees the leases left by a crashed process", async () => {
    const s = await sink();
    await addServer(s.port);
    const sent = await send();
    server.deps.db.update(messages).set({ lease_expires_at: clock.now() + 3_600_000 }).where(eq(messages.id, sent.id)).run();
    expect(await tick()).toBe(0);
    const restarted = new DeliveryJob(server.deps);
    restarted.releaseLeases();
    await restarted.tick(clock.now());
    await s.waitFor(1);
    await restarted.close();
    expect(row(sent.id).status).toBe("sent");
  });
});

describe("errors", () => {
  test("5xx to RCPT TO bounces and suppresses the address", async () => {
    const s = await sink();
    await addServer(s.port);
    s.refuse({ at: "rcpt", code: 550, message: "5.1.1 User unknown" });
    const sent = await send();
    await tick();
    const r = row(sent.id);
    expect(r.status).toBe("bounced");
    expect(r.failure_reason).toBe("hard_bounce");
    expect(r.smtp_response).toContain("User unknown");
    expect(eventTypes(sent.id)).toEqual(["email.bounced"]);
    const bounced = server.deps.db.select().from(events).where(eq(events.type, "email.bounced")).get()!;
    expect(bounced.data).toMatchObject({ bounce_type: "hard", recipient_email: "ada@example.com", transactional_id: sent.id, subject: "Receipt 42" });
    const sup = server.deps.db.select().from(suppressions).all();
    expect(sup).toMatchObject([{ email: "ada@example.com", reason: "hard_bounce", source: "delivery" }]);
    const again = await server.request("POST", "/api/v1/transactionals", { token: server.defaultToken, body: { to: "ada@example.com", subject: "s", body: "b" } });
    expect(again.status).toBe(422);
    expect(again.body).toEqual({ error: "To is suppressed (hard_bounce)", errors: { to: ["is suppressed (hard_bounce)"] } });
  });

  test("5xx to DATA bounces too", async () => {
    const s = await sink();
    await addServer(s.port);
    s.refuse({ at: "data", code: 554, message: "5.7.1 Message rejected" });
    const sent = await send();
    await tick();
    expect(row(sent.id).status).toBe("bounced");
  });

  test("temporary failures for 72 h end as failed", async () => {
    const s = await sink();
    await addServer(s.port);
    s.refuse({ at: "rcpt", code: 450, message: "4.2.0 Mailbox busy" });
    const sent = await send();
    const delays: number[] = [];
    for (let i = 0; i < 30 && row(sent.id).status !== "failed"; i++) {
      const before = clock.now();
      await tick();
      const next = row(sent.id).next_attempt_at;
      if (next === null) break;
      delays.push((next - before) / 60_000);
      clock.set(next);
    }
    expect(delays.slice(0, 8)).toEqual([1, 5, 15, 60, 180, 360, 360, 360]);
    const r = row(sent.id);
    expect(r.status).toBe("failed");
    expect(r.failure_reason).toBe("retries_exhausted");
    expect(r.failed_at! - r.queue_at).toBe(RETRY_WINDOW);
    expect(eventTypes(sent.id).at(-1)).toBe("email.failed");
  });

  test("servers that exist but are inactive keep mail queued (never captured)", async () => {
    const s = await sink();
    await addServer(s.port, { active: false });
    const sent = await send();
    await tick();
    const r = row(sent.id);
    expect(r.status).toBe("queued");
    expect(r.next_attempt_at).toBe(clock.now() + NO_ROUTE_RECHECK_MS);
    const list = await server.request("GET", "/api/v1/captured_messages");
    expect(list.body.total).toBe(0);
  });

  test("an address suppressed after the message was queued gets nothing", async () => {
    const s = await sink();
    await addServer(s.port);
    const sent = await send();
    const added = await server.request("POST", "/api/v1/global_suppressions", { body: { email: "ada@example.com", reason: "complaint" } });
    expect(added.status).toBe(201);
    await tick();
    const r = row(sent.id);
    expect(r.status).toBe("failed");
    expect(r.failure_reason).toBe("suppressed");
    expect(s.messages).toHaveLength(0);
    expect(eventTypes(sent.id)).toEqual(["email.failed"]);
  });

  test("a Liquid error at send time fails the message with render_error", async () => {
    // Parses fine, but blows the sandbox's output limit while rendering.
    const sent = await send({ body: "{% for i in (1..10000000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}" });
    await tick();
    const r = row(sent.id);
    expect(r.status).toBe("failed");
    expect(r.failure_reason).toBe("render_error");
    expect(eventTypes(sent.id)).toEqual(["email.failed"]);
  });
});
