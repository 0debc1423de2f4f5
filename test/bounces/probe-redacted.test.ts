/**
 * Probe: a bounce or complaint that arrives after its recipient was redacted (GDPR erasure). The
 * outbox row still names the address it went to; applying the report wrote that address back into
 * the events feed (and webhooks) as `recipient_email`, after the erasure had scrubbed it.
 */
import { expect, test } from "bun:test";
import type { SmtpSink } from "../smtp-sink";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import { arf, deliverInbound, dsn } from "./reports";

const DOMAIN = "bounce.example.com";
let t: OutboxTest;
let sink: SmtpSink;
eachWithSink(() => startOutboxTest({ env: { MAILROOM_BOUNCE_DOMAIN: DOMAIN, MAILROOM_INBOUND_HOST: "127.0.0.1", MAILROOM_INBOUND_PORT: "0" } }), (test, s) => ((t = test), (sink = s)));

const mentions = (email: string) => t.server.sql("SELECT type FROM events WHERE email = ? OR data LIKE ?", email, `%${email}%`).map((e) => e.type);

test.each(["hard bounce", "complaint"])("a %s about a redacted subscriber's message is ignored: the address does not come back", async (kind) => {
  const email = "erased@example.org";
  expect((await t.server.request("POST", "/api/v1/subscribers", { body: { channel: "default", email } })).status).toBe(201);
  const { id } = await t.send({ to: email });
  await t.tick();
  const mail = (await sink.waitFor(1))[0]!;
  expect(t.row(id).subscriber_id).not.toBeNull();
  expect((await t.server.request("POST", "/api/v1/subscribers/redact", { body: { channel: "default", email } })).status).toBe(200);
  expect(mentions(email)).toEqual([]);

  const original = { returnPath: mail.envelope.from, to: email, messageId: t.row(id).message_id };
  const raw = kind === "complaint" ? arf(original, original.returnPath) : dsn("postfix", original);
  expect((await deliverInbound(t.server.running.inboundPort!, original.returnPath, raw)).data).toStartWith("250 2.0.0");
  expect(t.server.sql("SELECT result FROM inbound_messages")).toEqual([{ result: "ignored" }]);
  expect(mentions(email)).toEqual([]);
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(0);
});
