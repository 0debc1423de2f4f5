/**
 * A broadcast end to end: subscribers over HTTP, send_broadcast, the fan-out and delivery jobs
 * stepped by hand, a real SMTP sink. Each eligible address gets the mail exactly once; suppressed,
 * unsubscribed, bounced and excluded ones get nothing.
 */
import { expect, test } from "bun:test";
import type { SmtpSink } from "../smtp-sink";
import { eachWithSink } from "../outbox/helpers";
import { startBroadcastTest, type BroadcastTest } from "./helpers";

let t: BroadcastTest;
let sink: SmtpSink;
eachWithSink(startBroadcastTest, (test, s) => ((t = test), (sink = s)));

const req = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });

test("a broadcast reaches each eligible address exactly once, in the bulk lane, with List-Unsubscribe and the footer", async () => {
  await t.subscribers(0, 3000);
  await req("PATCH", "/channels/default", { channel: { physical_address: "1 Main St, Springfield" } });
  // Ineligible: unsubscribed, suppressed (channel and global), bounced (via a hard bounce record), excluded by segment.
  expect((await req("POST", "/subscribers/unsubscribe", { channel: "default", email: "sub1@example.com" })).status).toBe(200);
  expect((await req("POST", "/suppressions", { channel: "default", email: "sub2@example.com" })).status).toBe(201);
  expect((await req("POST", "/global_suppressions", { email: "sub3@example.com" })).status).toBe(201);
  t.server.sql("UPDATE subscribers SET bounced_at = 1 WHERE email = 'sub4@example.com'");
  const excluded = await req("POST", "/segments", {
    channel: "default",
    name: "Tail",
    segment_groups_attributes: [{ segment_rules_attributes: [{ field: "email", operator: "starts_with", value: "sub29" }] }],
  });
  const b = await t.create({ excluded_segment_ids: [excluded.body.id], preheader: "Peek" });
  expect(b.status).toBe("draft");

  const sent = await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  expect(sent.status).toBe(200);
  expect(sent.body).toEqual({ id: b.id, message: "Broadcast queued for sending", status: "queueing" });
  expect(sent.headers.get("x-quota-used")).toBe(String(3000 - 4 - 111));

  await t.drain();
  await sink.waitFor(3000 - 4 - 111);
  const expected = new Set(Array.from({ length: 3000 }, (_, i) => `sub${i}@example.com`).filter((e, i) => i > 4 && !/^sub29/.test(e)));
  expected.add("sub0@example.com");
  const got = sink.messages.flatMap((m) => m.envelope.to);
  expect(got.length).toBe(expected.size);
  expect(new Set(got)).toEqual(expected);

  const one = sink.messages.find((m) => m.envelope.to[0] === "sub7@example.com")!;
  expect(one.parsed.subject).toBe("News for S7");
  expect(one.parsed.html).toContain("<p>Hello S7</p>");
  expect(one.parsed.html).toContain("1 Main St, Springfield");
  expect(one.parsed.html).toContain("Peek");
  expect(one.header("List-Unsubscribe")).toMatch(/^<http:\/\/[^>]+\/u\/[\w-]+\.[\w-]+>$/);
  expect(one.header("List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
  expect(one.parsed.html).toContain(one.header("List-Unsubscribe")!.slice(1, -1));

  // Content is stored once: the outbox rows carry no body.
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE broadcast_id = ? AND body IS NULL AND lane = 'bulk'", b.id)[0].n).toBe(expected.size);
  const done = await t.get(b.id);
  expect(done).toMatchObject({ status: "sent", total_recipients: expected.size, broadcast_recipients_count: expected.size, percentage_complete: 100 });
  const types = t.server.sql("SELECT type FROM events WHERE broadcast_id = ? AND type LIKE 'broadcast.%' AND type <> 'broadcast.batch_completed' ORDER BY id", b.id).map((e) => e.type);
  expect(types).toEqual(["broadcast.queueing", "broadcast.sending", "broadcast.sent"]);
  expect(t.server.sql("SELECT count(*) AS n FROM broadcast_recipients")[0].n).toBe(0);

  // Sending a sent broadcast is a state error naming the state.
  const again = await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  expect(again.status).toBe(422);
  expect(again.body.error).toBe("Broadcast can only be sent from draft, future_scheduled or failed (current: sent)");
}, 60_000);

test("recipients of one shared body each get their own unsubscribe URL in the HTML footer, the text part and List-Unsubscribe", async () => {
  await t.subscribers(0, 3);
  // No Liquid in the body: every recipient renders the same HTML, whose text part compose converts once.
  const b = await t.create({ body: "<html><body><p>Same for all</p></body></html>", track_opens: false, track_clicks: false });
  await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  await t.drain();
  await sink.waitFor(3);
  const urls = sink.messages.map((m) => {
    const url = m.header("List-Unsubscribe")!.slice(1, -1);
    expect(m.parsed.html).toContain(`<a href="${url}" data-mr-notrack>Unsubscribe</a>`);
    expect(m.parsed.text).toBe(`Same for all\nUnsubscribe (${url})`);
    return url;
  });
  expect(new Set(urls).size).toBe(3);
});

test("the body's own {{unsubscribe_url}} replaces the footer; a text body is escaped into HTML", async () => {
  await t.subscribers(0, 2);
  const b = await t.create({ body: "Hi & bye\nLeave: {{ unsubscribe_url }}", html_body: false });
  await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  await t.drain();
  await sink.waitFor(2);
  const html = sink.messages[0]!.parsed.html as string;
  expect(html).toContain("Hi &amp; bye<br>Leave: http");
  expect(html).not.toContain(">Unsubscribe</a>");
  expect(sink.messages[0]!.parsed.text).toContain("Hi & bye");
});

test("quota: a send larger than the remainder is refused with 402 before anything is enqueued", async () => {
  await t.subscribers(0, 10);
  await req("PATCH", "/channels/default", { channel: { monthly_send_quota: 6 } });
  const b = await t.create({});
  const res = await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  expect(res.status).toBe(402);
  expect(res.body).toEqual({ error: "Payment Required", message: "Monthly send quota insufficient: 10 recipients, 6 remaining" });
  expect(t.server.sql("SELECT count(*) AS n FROM messages")[0].n).toBe(0);
  expect(t.server.sql("SELECT count(*) AS n FROM broadcast_recipients")[0].n).toBe(0);
  expect((await t.get(b.id)).status).toBe("draft");
});

test("no eligible recipients and a channel without sender_email → 422", async () => {
  const b = await t.create({});
  const none = await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  expect(none.status).toBe(422);
  expect(none.body.error).toBe("Broadcast has no eligible recipients");
  await t.subscribers(0, 1);
  expect((await req("PATCH", "/channels/default", { channel: { sender_email: null } })).status).toBe(200);
  const noSender = await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  expect(noSender.status).toBe(422);
  expect(noSender.body.errors).toEqual({ channel: ["has no sender_email"] });
});

test("pause holds unsent mail (the claim skips it), resume sends the rest, each address once", async () => {
  await t.subscribers(0, 300);
  const b = await t.create({});
  await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  await t.tickBroadcasts();
  await t.tick();
  const before = sink.accepted;
  expect(before).toBeGreaterThan(0);
  expect((await req("POST", `/broadcasts/${b.id}/pause`)).body.status).toBe("paused");
  await t.drain();
  expect(sink.accepted).toBe(before);
  expect((await req("POST", `/broadcasts/${b.id}/pause`)).status).toBe(422);
  const resumed = await req("POST", `/broadcasts/${b.id}/resume`);
  expect(resumed.body.status).toMatch(/^(queueing|sending)$/);
  await t.drain();
  await sink.waitFor(300);
  const got = sink.messages.map((m) => m.envelope.to[0]);
  expect(got.length).toBe(300);
  expect(new Set(got).size).toBe(300);
  expect((await t.get(b.id)).status).toBe("sent");
  const resumeAgain = await req("POST", `/broadcasts/${b.id}/resume`);
  expect(resumeAgain.body.error).toBe("Broadcast can only be resumed from paused (current: sent)");
});

test("abort: unsent messages are never sent and are marked aborted", async () => {
  await t.subscribers(0, 300);
  const b = await t.create({});
  await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  await t.tickBroadcasts();
  await t.tick();
  const before = sink.accepted;
  expect((await req("POST", `/broadcasts/${b.id}/abort`)).body.status).toBe("aborted");
  await t.drain();
  expect(sink.accepted).toBe(before);
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE broadcast_id = ? AND failure_reason = 'aborted'", b.id)[0].n).toBe(300 - before);
  expect((await t.get(b.id)).status).toBe("aborted");
});

test("a row whose in-flight attempt ends after a pause or an abort (a retry makes it due) is held or failed again", async () => {
  await t.subscribers(0, 3);
  const b = await t.create({});
  await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  await t.tickBroadcasts();
  const [first] = t.server.sql("SELECT id FROM messages WHERE broadcast_id = ? ORDER BY id", b.id);
  // A lease taken before the pause keeps the row out of reach of pause; its retry makes it due again later.
  t.server.sql("UPDATE messages SET lease_expires_at = ? WHERE id = ?", t.clock.now() + 60_000, first.id);
  await req("POST", `/broadcasts/${b.id}/pause`);
  t.server.sql("UPDATE messages SET lease_expires_at = NULL, status = 'sending', next_attempt_at = ? WHERE id = ?", t.clock.now(), first.id);
  await t.tickBroadcasts();
  expect(t.server.sql("SELECT next_attempt_at FROM messages WHERE id = ?", first.id)[0].next_attempt_at).toBeNull();
  await t.drain();
  expect(sink.accepted).toBe(0);

  await req("POST", `/broadcasts/${b.id}/resume`);
  t.server.sql("UPDATE messages SET lease_expires_at = ? WHERE id = ?", t.clock.now() + 60_000, first.id);
  await req("POST", `/broadcasts/${b.id}/abort`);
  t.server.sql("UPDATE messages SET lease_expires_at = NULL, next_attempt_at = ? WHERE id = ?", t.clock.now() + 60_000, first.id);
  t.clock.advance(60_000);
  await t.tickBroadcasts();
  expect(t.server.sql("SELECT status, failure_reason FROM messages WHERE id = ?", first.id)[0]).toEqual({ status: "failed", failure_reason: "aborted" });
  await t.drain();
  expect(sink.accepted).toBe(0);
});
