/**
 * applyDeliveryReport, the one path every late bounce and complaint takes (inbound DSN/ARF mail and
 * provider webhooks): on real broadcasts delivered to a real sink, what each kind writes (message
 * status, suppressions, subscriber, events), duplicates and foreign reports ignored, three soft
 * bounces in 15 days, and the broadcast statistics and reputation that follow.
 */
import { expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { EVENT_SCHEMAS } from "@/features/events/schemas";
import { applyDeliveryReport, messageByMessageIdHeader, type DeliveryReport } from "@/features/bounces/report";
import type { SmtpSink } from "../smtp-sink";
import { eachWithSink } from "../outbox/helpers";
import { startBroadcastTest, type BroadcastTest } from "../broadcasts/helpers";

let t: BroadcastTest;
let sink: SmtpSink;
eachWithSink(startBroadcastTest, (test, s) => ((t = test), (sink = s)));

const DAY = 86_400_000;

/** A broadcast to sub0…sub<count-1>, delivered; returns it and its messages by recipient. */
async function delivered(count: number) {
  await t.subscribers(0, count);
  const b = await t.create({});
  await t.server.request("POST", `/api/v1/broadcasts/${b.id}/send_broadcast`);
  await t.drain();
  await sink.waitFor(count);
  const rows = t.server.sql("SELECT id, recipient_email, message_id FROM messages WHERE broadcast_id = ? ORDER BY id", b.id);
  return { b, rows };
}

const report = (messageId: number, recipient: string, fields: Partial<DeliveryReport> = {}): DeliveryReport => ({
  messageId,
  recipient,
  kind: "hard_bounce",
  diagnostic: "5.1.1 smtp; 550 5.1.1 user unknown",
  source: "inbound",
  occurredAt: t.clock.now(),
  ...fields,
});
const apply = (r: DeliveryReport) => applyDeliveryReport(t.server.deps, r);
const events = (type: string) => t.server.sql("SELECT data FROM events WHERE type = ? ORDER BY id", type).map((e) => JSON.parse(e.data));
const suppression = (email: string) => t.server.sql("SELECT reason, source FROM suppressions WHERE email = ?", email)[0];

test("a hard bounce after sending: message bounced, suppression, subscriber bounced, events, statistics and reputation", async () => {
  const { b, rows } = await delivered(3);
  const target = rows[0];
  expect(apply(report(target.id, target.recipient_email.toUpperCase()))).toBe("applied");
  expect(apply(report(target.id, target.recipient_email))).toBe("duplicate");

  expect(t.row(target.id)).toMatchObject({ status: "bounced", failure_reason: "hard_bounce", smtp_response: "5.1.1 smtp; 550 5.1.1 user unknown" });
  expect(t.row(target.id).sent_at).not.toBeNull();
  expect(suppression(target.recipient_email)).toEqual({ reason: "hard_bounce", source: "delivery" });
  expect(events("email.bounced")).toEqual([expect.objectContaining({ recipient_email: target.recipient_email, broadcast_id: b.id, bounce_type: "hard", smtp_response: "5.1.1 smtp; 550 5.1.1 user unknown" })]);
  expect([...Value.Errors(EVENT_SCHEMAS["email.bounced"], events("email.bounced")[0])]).toEqual([]);
  expect(events("subscriber.bounced").map((e) => e.subscriber.email)).toEqual([target.recipient_email]);

  const stats = (await t.server.request("GET", `/api/v1/broadcasts/${b.id}/statistics`)).body;
  expect(stats.delivery).toMatchObject({ sent: 2, failed: 1 });
  expect(stats.issues.bounces).toMatchObject({ count: 1, hard: 1 });
  // Counted once as sent, as bounced and no longer as delivered.
  const rep = (await t.server.request("GET", "/api/v1/reputation?days=30")).body.domains[0];
  expect(rep).toMatchObject({ sent: 3, delivered: 2, bounced: 1 });
});

test("reports about a message never sent, unknown, or naming another recipient are ignored and change nothing", async () => {
  const { rows } = await delivered(1);
  const queued = (await t.send({ to: "later@example.com" })).id;
  expect(apply(report(queued, "later@example.com"))).toBe("ignored");
  expect(apply(report(999_999, "nobody@example.com"))).toBe("ignored");
  expect(apply(report(rows[0].id, "someone-else@example.com"))).toBe("ignored");
  expect(apply(report(rows[0].id, "someone-else@example.com", { kind: "complaint" }))).toBe("ignored");
  expect(t.server.sql("SELECT count(*) AS n FROM suppressions")[0].n).toBe(0);
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(0);
  expect(events("email.bounced")).toEqual([]);
});

test("soft bounces: an event each, no suppression until the third message within 15 days", async () => {
  await t.subscribers(0, 1);
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) {
    const b = await t.create({});
    await t.server.request("POST", `/api/v1/broadcasts/${b.id}/send_broadcast`);
    await t.drain();
    ids.push(t.server.sql("SELECT id FROM messages WHERE broadcast_id = ?", b.id)[0].id);
  }
  const soft = (id: number, at: number) => apply(report(id, "sub0@example.com", { kind: "soft_bounce", diagnostic: "4.2.2 mailbox full", occurredAt: at }));
  const now = t.clock.now();
  expect(soft(ids[0]!, now - 20 * DAY)).toBe("applied"); // outside the window
  expect(soft(ids[1]!, now - 2 * DAY)).toBe("applied");
  expect(soft(ids[1]!, now - DAY)).toBe("duplicate"); // a second delay notice of the same message
  expect(soft(ids[2]!, now - DAY)).toBe("applied");
  expect(suppression("sub0@example.com")).toBeUndefined();
  expect(t.row(ids[2]!).status).toBe("sent");
  expect(soft(ids[3]!, now)).toBe("applied");
  expect(suppression("sub0@example.com")).toEqual({ reason: "hard_bounce", source: "delivery" });
  expect(events("email.soft_bounced").map((e) => e.smtp_response)).toEqual(Array(4).fill("4.2.2 mailbox full"));
  expect(events("subscriber.bounced").length).toBe(1);
  expect(events("email.bounced")).toEqual([]);
  // Each broadcast counts its soft-bounced message as a bounce, not as a hard one.
  const stats = (await t.server.request("GET", `/api/v1/broadcasts/${t.row(ids[3]!).broadcast_id}/statistics`)).body;
  expect(stats.issues.bounces).toEqual({ count: 1, hard: 0, rate: 100 });
  // Every event written carries exactly its type's schema (§11.3).
  for (const row of t.server.sql("SELECT type, data FROM events WHERE type IN ('email.soft_bounced', 'subscriber.bounced')")) {
    expect([...Value.Errors(EVENT_SCHEMAS[row.type as keyof typeof EVENT_SCHEMAS], JSON.parse(row.data))].map((e) => `${row.type} ${e.path} ${e.message}`)).toEqual([]);
  }
});

test("a complaint: suppression complaint, email.complained about that message, subscriber.complained, counted", async () => {
  const { b, rows } = await delivered(2);
  const target = rows[1];
  expect(messageByMessageIdHeader(t.server.deps.db, target.message_id.slice(1, -1))).toEqual({ id: target.id, channel_id: expect.any(Number), recipient_email: target.recipient_email });
  expect(messageByMessageIdHeader(t.server.deps.db, "<nope@example.com>")).toBeUndefined();
  expect(apply(report(target.id, target.recipient_email, { kind: "complaint", diagnostic: null, source: "ses" }))).toBe("applied");
  expect(apply(report(target.id, target.recipient_email, { kind: "complaint", diagnostic: null }))).toBe("duplicate");
  expect(suppression(target.recipient_email)).toEqual({ reason: "complaint", source: "delivery" });
  expect(events("email.complained")).toEqual([expect.objectContaining({ recipient_email: target.recipient_email, broadcast_id: b.id })]);
  expect(events("subscriber.complained").map((e) => e.subscriber.status)).toEqual(["complained"]);
  const stats = (await t.server.request("GET", `/api/v1/broadcasts/${b.id}/statistics`)).body;
  expect(stats.issues.complaints.count).toBe(1);
  const rep = (await t.server.request("GET", "/api/v1/reputation?days=30")).body.domains[0];
  expect(rep).toMatchObject({ sent: 2, complained: 1 });
});
