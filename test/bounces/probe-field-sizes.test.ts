/**
 * Probe: the feedback address takes mail from anyone, and what it is sent is kept and listed by
 * GET /inbound_messages (250 a page). A From header, a reported recipient or a diagnostic may be
 * as long as the sender likes (up to the 1 MiB a MIME header may take, or the 64 KiB of a report
 * part read): each is stored bounded, like the subject, so a page stays small.
 */
import { expect, test } from "bun:test";
import type { OutboxTest } from "../outbox/helpers";
import { eachWithSink, startOutboxTest } from "../outbox/helpers";
import { deliverInbound } from "./reports";

const DOMAIN = "bounce.example.com";
let t: OutboxTest;
eachWithSink(() => startOutboxTest({ env: { MAILROOM_BOUNCE_DOMAIN: DOMAIN, MAILROOM_INBOUND_HOST: "127.0.0.1", MAILROOM_INBOUND_PORT: "0" } }), (test) => (t = test));

const long = (n: number) => "x".repeat(n);
const feedback = (fields: string, from = "fbl@isp.example") =>
  `From: ${from}\r\nSubject: Abuse report\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="f"\r\n\r\n--f\r\nContent-Type: message/feedback-report\r\n\r\n${fields}\r\n--f--\r\n`;
const dsnTo = (recipient: string, diagnostic: string) =>
  `Subject: Undelivered\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="d"\r\n\r\n--d\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; ${recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 ${diagnostic}\r\n--d--\r\n`;

test("a huge From, feedback type, recipient or diagnostic is stored cut to a bounded length; the list answers", async () => {
  const to = `feedback@${DOMAIN}`;
  expect((await deliverInbound(t.server.running.inboundPort!, to, feedback("Feedback-Type: abuse", `${long(600_000)}@example.org`))).data).toStartWith("250 2.0.0");
  expect((await deliverInbound(t.server.running.inboundPort!, to, feedback(`Feedback-Type: ${long(60_000)}\r\nOriginal-Rcpt-To: ${long(50_000)}@example.org`))).data).toStartWith("250 2.0.0");
  expect((await deliverInbound(t.server.running.inboundPort!, to, dsnTo(`${long(50_000)}@example.org`, long(60_000)))).data).toStartWith("250 2.0.0");
  const rows = t.server.sql("SELECT length(from_header) AS from_len, length(recipient) AS recipient_len, length(diagnostic) AS diagnostic_len FROM inbound_messages ORDER BY id");
  expect(rows.length).toBe(3);
  for (const r of rows) {
    expect(r.from_len ?? 0).toBeLessThanOrEqual(998);
    expect(r.recipient_len ?? 0).toBeLessThanOrEqual(998);
    expect(r.diagnostic_len ?? 0).toBeLessThanOrEqual(1000);
  }
  const list = await t.server.request("GET", "/api/v1/inbound_messages");
  expect(list.status).toBe(200);
  expect(list.body.inbound_messages.length).toBe(3);
  expect(t.server.sql("SELECT count(*) AS n FROM suppressions")[0].n).toBe(0);
});
