/**
 * GET /status shows bounce handling (VERP domain, listener, the MX record to publish) and says so
 * when the bounce domain is set but nothing here receives its mail; without a bounce domain the
 * envelope sender stays the channel's sender_email.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../harness";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { SmtpSink } from "../smtp-sink";

let server: TestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

const status = async (env: Record<string, string>) => {
  server = await startTestServer({ env: { MAILROOM_PUBLIC_URL: "https://mail.example.com", ...env } });
  const res = await server.request("GET", "/api/v1/status?channel=default");
  expect(res.status).toBe(200);
  return res.body;
};

test("with the bounce domain and the listener: VERP on, the MX record, no issue", async () => {
  const body = await status({ MAILROOM_BOUNCE_DOMAIN: "bounce.example.com", MAILROOM_INBOUND_HOST: "127.0.0.1", MAILROOM_INBOUND_PORT: "0" });
  expect(body.bounces).toEqual({ verp: true, domain: "bounce.example.com", inbound_listener: true, dns: [{ type: "MX", name: "bounce.example.com", value: "10 mail.example.com." }] });
  expect(body.issues.map((i: any) => i.code)).not.toContain("bounce_listener_off");
});

test("a bounce domain without the listener is an issue; no bounce domain: nothing to publish", async () => {
  const body = await status({ MAILROOM_BOUNCE_DOMAIN: "bounce.example.com" });
  expect(body.bounces.inbound_listener).toBe(false);
  expect(body.issues).toContainEqual({ code: "bounce_listener_off", message: expect.stringContaining("MAILROOM_INBOUND_PORT") });
  await server!.stop();
  const plain = await status({});
  expect(plain.bounces).toEqual({ verp: false, domain: null, inbound_listener: false, dns: [] });
  expect(server!.running.inboundPort).toBeNull();
});

describe("delivery", () => {
  let t: OutboxTest;
  let sink: SmtpSink;
  eachWithSink(startOutboxTest, (test, s) => ((t = test), (sink = s)));

  test("without a bounce domain the envelope sender is the channel's sender_email, as before", async () => {
    await t.send({ to: "ada@example.com" });
    await t.tick();
    const [mail] = await sink.waitFor(1);
    expect(mail!.envelope.from).toBe(t.server.sql("SELECT sender_email FROM channels WHERE slug = 'default'")[0].sender_email);
  });
});
