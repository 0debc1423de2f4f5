/**
 * VERP and the inbound bounce listener end to end: mail sent by the delivery job to a real sink
 * carries a signed return path; DSNs in Postfix, Exim, Gmail and Microsoft shapes and feedback
 * reports sent back over real SMTP to the listener bounce, soft-bounce or complain about that
 * message; forged addresses, unknown messages, auto-replies, malformed MIME, a DSN bomb and an
 * oversized message are refused or stored without action.
 */
import { expect, test } from "bun:test";
import { linkSecret } from "@/db/settings";
import { signedReturnPath } from "@/features/bounces/verp";
import { createTestToken } from "../fixtures";
import type { SmtpSink } from "../smtp-sink";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import { eventually, SmtpScript, submissionClient } from "../smtp/helpers";
import { arf, autoReply, deliverInbound, dsn, type MtaShape, type Original } from "./reports";

const DOMAIN = "bounce.example.com";
let t: OutboxTest;
let sink: SmtpSink;
const start = () => startOutboxTest({ env: { MAILROOM_BOUNCE_DOMAIN: DOMAIN, MAILROOM_INBOUND_HOST: "127.0.0.1", MAILROOM_INBOUND_PORT: "0" } });
eachWithSink(start, (test, s) => ((t = test), (sink = s)));

const port = () => t.server.running.inboundPort!;
const suppression = (email: string) => t.server.sql("SELECT reason FROM suppressions WHERE email = ?", email)[0]?.reason;
const inbound = () => t.server.sql("SELECT * FROM inbound_messages ORDER BY id");

/** Sends a transactional to `to` through the delivery job; returns what the bounce needs to name it. */
async function sent(to: string): Promise<Original & { id: number }> {
  const { id } = await t.send({ to });
  await t.tick();
  const mail = (await sink.waitFor(sink.messages.length + 1)).at(-1)!;
  return { id, to, returnPath: mail.envelope.from, messageId: t.row(id).message_id };
}

test("VERP: the envelope sender is a short signed return path of the bounce domain; From is unchanged", async () => {
  const m = await sent("ada@example.com");
  expect(m.returnPath).toMatch(/^bounces\+[0-9a-z]+-[0-9a-f]{20}@bounce\.example\.com$/);
  expect(m.returnPath).toBe(signedReturnPath(linkSecret(t.server.deps), DOMAIN, m.id));
  expect(m.returnPath).not.toContain("ada");
  expect(sink.messages[0]!.parsed.from!.value[0]!.address).toBe(t.server.sql("SELECT sender_email FROM channels WHERE slug = 'default'")[0].sender_email);
});

test.each(["postfix", "exim", "gmail", "microsoft"] as MtaShape[])("a %s DSN (5.x.x, failed) to the return path is a hard bounce", async (shape) => {
  const m = await sent("gone@example.org");
  const replies = await deliverInbound(port(), m.returnPath, dsn(shape, m));
  expect(replies.rcpt).toStartWith("250");
  expect(replies.data).toMatch(/^250 2\.0\.0 Ok: received as \d+$/);
  expect(t.row(m.id)).toMatchObject({ status: "bounced", failure_reason: "hard_bounce" });
  expect(t.row(m.id).smtp_response).toContain(shape === "microsoft" ? "5.1.10" : "5.1.1");
  expect(suppression("gone@example.org")).toBe("hard_bounce");
  expect(t.eventTypes(m.id)).toEqual(["email.sent", "email.delivered", "email.bounced"]);
  expect(inbound()).toEqual([expect.objectContaining({ classification: "hard_bounce", result: "applied", message_id: m.id, recipient: "gone@example.org", rcpt_to: m.returnPath, mail_from: null })]);
  // The same DSN again changes nothing.
  await deliverInbound(port(), m.returnPath, dsn(shape, m));
  expect(inbound().map((r) => r.result)).toEqual(["applied", "duplicate"]);
  expect(t.eventTypes(m.id).filter((e) => e === "email.bounced").length).toBe(1);
});

test("delayed DSNs (4.x.x) are soft bounces: no suppression until the third message within 15 days", async () => {
  for (let i = 0; i < 3; i++) {
    const m = await sent("full@example.org");
    await deliverInbound(port(), m.returnPath, dsn(i === 1 ? "microsoft" : "postfix", m, "4.2.2"));
    expect(t.row(m.id).status).toBe("sent");
    expect(t.eventTypes(m.id).at(-1)).toBe("email.soft_bounced");
    expect(suppression("full@example.org")).toBe(i < 2 ? undefined : "hard_bounce");
  }
  expect(inbound().map((r) => r.classification)).toEqual(["soft_bounce", "soft_bounce", "soft_bounce"]);
});

test("feedback reports: to the return path (recipient redacted) or to the feedback address (by Message-ID) are complaints", async () => {
  const a = await sent("annoyed@example.org");
  expect((await deliverInbound(port(), a.returnPath, arf(a, a.returnPath, true))).data).toStartWith("250 2.0.0");
  const b = await sent("cross@example.org");
  expect((await deliverInbound(port(), `feedback@${DOMAIN}`, arf(b, `feedback@${DOMAIN}`))).data).toStartWith("250 2.0.0");
  expect([suppression("annoyed@example.org"), suppression("cross@example.org")]).toEqual(["complaint", "complaint"]);
  const feed = await t.server.request("GET", "/api/v1/events?type=email.complained");
  expect(feed.status).toBe(200);
  expect(feed.body.data.map((e: any) => e.data.recipient_email).sort()).toEqual(["annoyed@example.org", "cross@example.org"]);
  expect(inbound().map((r) => [r.classification, r.result, r.message_id])).toEqual([["complaint", "applied", a.id], ["complaint", "applied", b.id]]);
});

test("a feedback report without a signed return path names its message only by a Message-ID Mailroom made (a client-chosen one could be forged)", async () => {
  // Mail submitted over SMTP keeps the Message-ID its client chose, which others may know or guess.
  const info = await submissionClient(t.server, "apikey", t.server.defaultToken).sendMail({
    from: t.server.sql("SELECT sender_email FROM channels WHERE slug = 'default'")[0].sender_email,
    to: "victim@example.org",
    subject: "Order 42",
    text: "Thanks",
    messageId: "<order-42@app.example>",
  });
  expect(info.response).toStartWith("250");
  await t.tick();
  const mail = (await sink.waitFor(1)).at(-1)!;
  const row = t.server.sql("SELECT * FROM messages WHERE recipient_email = 'victim@example.org'")[0];
  expect(row).toMatchObject({ status: "sent", message_id: "<order-42@app.example>" });
  const original = { to: "victim@example.org", messageId: "<order-42@app.example>" };
  // Forged: the report names no return path of ours (or an unsigned one) → ignored, no suppression.
  await deliverInbound(port(), `feedback@${DOMAIN}`, arf({ ...original, returnPath: "sender@app.example" }, `feedback@${DOMAIN}`));
  expect(suppression("victim@example.org")).toBeUndefined();
  expect(inbound().map((r) => [r.classification, r.result])).toEqual([["complaint", "ignored"]]);
  // A real feedback loop states the original's envelope sender: the signed return path names the message.
  await deliverInbound(port(), `feedback@${DOMAIN}`, arf({ ...original, returnPath: mail.envelope.from }, `feedback@${DOMAIN}`));
  expect(suppression("victim@example.org")).toBe("complaint");
  expect(inbound().at(-1)).toMatchObject({ classification: "complaint", result: "applied", message_id: row.id });
});

test("forged, unsigned or foreign addresses are refused at RCPT TO; nothing is stored", async () => {
  const m = await sent("ada@example.com");
  const tampered = m.returnPath.replace(/-([0-9a-f])/, (_, c) => `-${c === "0" ? "1" : "0"}`);
  const otherId = m.returnPath.replace(/\+[0-9a-z]+-/, "+zz-");
  for (const to of [tampered, otherId, `bounces@${DOMAIN}`, `postmaster@${DOMAIN}`, m.returnPath.replace(DOMAIN, "evil.example")]) {
    const replies = await deliverInbound(port(), to, dsn("postfix", m));
    expect(replies.rcpt).toBe("550 5.1.1 Recipient address rejected: not a bounce address of this host");
  }
  expect(inbound()).toEqual([]);
  expect(t.row(m.id).status).toBe("sent");
});

test("no AUTH; one recipient per transaction (the sender retries the others)", async () => {
  const a = await sent("ada@example.com");
  const b = await sent("bob@example.com");
  const s = await SmtpScript.open(port());
  try {
    await s.next();
    expect(await s.send("EHLO mx.example.org")).not.toContain("AUTH");
    expect(await s.send("AUTH PLAIN AGFkYQBwYXNz")).toBe("500 5.5.2 Error: command not recognized");
    await s.send("MAIL FROM:<>");
    expect(await s.send(`RCPT TO:<${a.returnPath}>`)).toStartWith("250");
    expect(await s.send(`RCPT TO:<${b.returnPath}>`)).toBe("452 4.5.3 Too many recipients");
  } finally {
    s.close();
  }
});

test("an IP may hold 10 connections at once; the 11th is refused 421 and can come back later", async () => {
  const open = await Promise.all(Array.from({ length: 10 }, () => SmtpScript.open(port())));
  try {
    for (const s of open) expect(await s.next()).toStartWith("220 ");
    const extra = await SmtpScript.open(port());
    expect(await extra.next()).toBe("421 4.7.0 Too many connections, try again later");
    extra.close();
    open.pop()!.close();
    await eventually(async () => {
      const again = await SmtpScript.open(port());
      const greeting = await again.next();
      again.close();
      return greeting.startsWith("220 ");
    });
  } finally {
    for (const s of open) s.close();
  }
});

test("a DSN for a message that does not exist, or naming another recipient, is ignored with a log line", async () => {
  const m = await sent("ada@example.com");
  const unknown = signedReturnPath(linkSecret(t.server.deps), DOMAIN, 999_999);
  expect((await deliverInbound(port(), unknown, dsn("postfix", { ...m, returnPath: unknown }))).data).toStartWith("250 2.0.0");
  expect((await deliverInbound(port(), m.returnPath, dsn("gmail", { ...m, to: "stranger@example.net" }))).data).toStartWith("250 2.0.0");
  expect(inbound().map((r) => [r.result, r.message_id])).toEqual([["ignored", null], ["ignored", m.id]]);
  expect(t.server.sql("SELECT count(*) AS n FROM suppressions")[0].n).toBe(0);
  expect(t.server.log.lines().filter((l: any) => l.event === "bounces.report_ignored").length).toBe(2);
});

test("auto-replies and malformed MIME are stored for inspection without action", async () => {
  const m = await sent("ada@example.com");
  await deliverInbound(port(), m.returnPath, autoReply(m.returnPath), "ada@example.com");
  const broken = `Content-Type: multipart/report; report-type=delivery-status; boundary="x"\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%not base64\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n\x00\x01garbage`;
  expect((await deliverInbound(port(), m.returnPath, broken)).data).toStartWith("250 2.0.0");
  expect(inbound().map((r) => [r.classification, r.result, r.mail_from])).toEqual([["auto_reply", "stored", "ada@example.com"], ["unclassified", "stored", null]]);
  expect(t.row(m.id).status).toBe("sent");
  expect(suppression("ada@example.com")).toBeUndefined();
  // Both also go into local capture, beside the message they answer.
  const captured = await eventually(async () => {
    const list = (await t.server.request("GET", `/api/v1/captured_messages?transactional_id=${m.id}`)).body.data;
    return list.length === 2 ? list : null;
  });
  expect(captured.map((c: any) => [c.subject, c.from])).toEqual([[null, null], ["Out of office: Receipt", '"Ada" <ada@example.com>']]);
});

test("a DSN bomb (thousands of parts) is refused 554 and an oversized message 552; nothing recorded", async () => {
  const m = await sent("ada@example.com");
  const parts = Array.from({ length: 5000 }, () => `--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; ada@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n`).join("");
  const bomb = `Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n${parts}--b--\r\n`;
  expect((await deliverInbound(port(), m.returnPath, bomb)).data).toBe("554 5.6.0 Too many MIME parts");
  const huge = `Subject: big\r\n\r\n${"x".repeat(998)}\r\n`.repeat(11 * 1024);
  expect((await deliverInbound(port(), m.returnPath, huge)).data).toBe("552 5.3.4 Message size exceeds fixed maximum message size");
  expect(inbound()).toEqual([]);
  expect(t.row(m.id).status).toBe("sent");
  // The listener's thread forwards its log lines in batches.
  await eventually(() => t.server.log.lines().filter((l: any) => l.event === "inbound.refused").length === 2);
});

test("GET /inbound_messages lists what was received, newest first, filtered; mail about no message of ours only for scope all", async () => {
  const m = await sent("gone@example.org");
  await deliverInbound(port(), m.returnPath, dsn("postfix", m));
  await deliverInbound(port(), m.returnPath, autoReply(m.returnPath));
  const unknown = signedReturnPath(linkSecret(t.server.deps), DOMAIN, 999_999);
  await deliverInbound(port(), unknown, dsn("exim", { ...m, returnPath: unknown }));

  const all = await t.server.request("GET", "/api/v1/inbound_messages");
  expect(all.status).toBe(200);
  expect(all.body.inbound_messages.map((r: any) => [r.classification, r.result, r.channel, r.outbound_message_id])).toEqual([
    ["hard_bounce", "ignored", null, null],
    ["auto_reply", "stored", "default", m.id],
    ["hard_bounce", "applied", "default", m.id],
  ]);
  expect(all.body.inbound_messages[2]).toMatchObject({ rcpt_to: m.returnPath, mail_from: null, from: "MAILER-DAEMON@mx.example.org", recipient: "gone@example.org", subject: "Undelivered Mail Returned to Sender" });
  expect(all.body.inbound_messages[2].diagnostic).toStartWith("5.1.1 smtp; 550 5.1.1");
  expect(all.body.pagination).toMatchObject({ count: 3 });

  const filtered = await t.server.request("GET", "/api/v1/inbound_messages?classification=hard_bounce&result=applied");
  expect(filtered.body.inbound_messages.map((r: any) => r.id)).toEqual([all.body.inbound_messages[2].id]);
  expect((await t.server.request("GET", "/api/v1/inbound_messages?classification=nonsense")).status).toBe(422);

  const channelToken = createTestToken(t.server.deps, { permissions: ["suppressions_read"] });
  const scoped = await t.server.request("GET", "/api/v1/inbound_messages", { token: channelToken });
  expect(scoped.body.inbound_messages.map((r: any) => r.classification)).toEqual(["auto_reply", "hard_bounce"]);
  const noPermission = createTestToken(t.server.deps, { permissions: ["subscribers_read"] });
  expect((await t.server.request("GET", "/api/v1/inbound_messages", { token: noPermission })).status).toBe(403);
});

test("received mail is kept MAILROOM_EVENT_RETENTION_DAYS (90), then the retention job removes it", async () => {
  const m = await sent("ada@example.com");
  await deliverInbound(port(), m.returnPath, autoReply(m.returnPath));
  const job = t.server.running.jobs.get("bounces.inbound_retention")!;
  await job.tick(t.clock.now() + 89 * 86_400_000);
  expect(inbound().length).toBe(1);
  await job.tick(t.clock.now() + 91 * 86_400_000);
  expect(inbound()).toEqual([]);
});
