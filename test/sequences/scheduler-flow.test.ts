/**
 * The sequence scheduler job on a real server and a real SMTP sink, stepped with the fake clock:
 * send_email mail as it arrives (List-Unsubscribe, footer, content frozen at queueing), delay and
 * delay_until_time timing (across a DST change), ineligible subscribers skipped, inactive sequences
 * held, completion, and a restart on the same database file carrying on from the stored due times.
 */
import { expect, test } from "bun:test";
import { eachWithSink } from "../outbox/helpers";
import { startTestServer } from "../harness";
import type { SmtpSink } from "../smtp-sink";
import { DUE_SQL } from "@/features/sequences/scheduler";
import { startSchedulerTest, type SchedulerTest } from "./scheduler-helpers";

let t: SchedulerTest;
let sink: SmtpSink;
eachWithSink(startSchedulerTest, (test, s) => ((t = test), (sink = s)));

const HOUR = 3_600_000;

test("send_email: the step's mail arrives with List-Unsubscribe (one-click), the footer and Liquid; then completed", async () => {
  const s = await t.sequence();
  const step = await t.addStep(s.id, { action: "send_email", subject: "Welcome {{ first_name }}", body: "<p>Hi {{ subscriber.first_name }}</p>" });
  const enrolled = await t.enroll(s.id, "ada@example.com", { first_name: "Ada" });
  await t.run();
  const [mail] = await sink.waitFor(1);
  expect(mail!.parsed.subject).toBe("Welcome Ada");
  expect(mail!.parsed.html).toContain("<p>Hi Ada</p>");
  expect(mail!.parsed.html).toContain("Unsubscribe</a>");
  expect(mail!.header("list-unsubscribe")).toMatch(/^<http.*\/u\/.+>$/);
  expect(mail!.header("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
  const row = t.server.sql("SELECT * FROM messages WHERE sequence_id = ?", s.id)[0];
  expect(row).toMatchObject({ kind: "sequence", lane: "bulk", status: "sent", sequence_step_id: step.id, recipient_email: "ada@example.com", track_opens: 1, track_clicks: 1 });
  expect(t.enrollment(s.id, "ada@example.com")).toMatchObject({ id: enrolled.id, status: "completed", last_message_id: row.id, next_trigger_at: null, completed_at: t.clock.now() });
  expect(t.sequenceEvents("ada@example.com")).toEqual(["sequence.subscriber_added", "sequence.subscriber_completed"]);
});

test("html_body false: a plain-text step body is sent as text even when it reads like a tag; true (the default) sends HTML", async () => {
  const s = await t.sequence();
  const plain = await t.addStep(s.id, { action: "send_email", subject: "Plain", body: "Reply with <yes> or <no>", html_body: false });
  await t.addStep(s.id, { action: "send_email", parent_id: plain.id, subject: "Rich", body: "<p>Rich</p>" });
  await t.enroll(s.id, "ada@example.com");
  await t.run();
  const mails = await sink.waitFor(2);
  const bySubject = Object.fromEntries(mails.map((m) => [m.parsed.subject, m.parsed]));
  expect(bySubject.Plain!.text).toContain("Reply with <yes> or <no>");
  expect(bySubject.Plain!.html).toContain("Reply with &lt;yes&gt; or &lt;no&gt;");
  expect(bySubject.Rich!.html).toContain("<p>Rich</p>");
  expect(t.server.sql("SELECT html_body FROM messages WHERE sequence_id = ? ORDER BY id", s.id).map((r) => r.html_body)).toEqual([0, 1]);
});

test("delay: the next step runs when the delay has passed, not before; a step edited after queueing does not change queued mail", async () => {
  const s = await t.sequence();
  const wait = await t.addStep(s.id, { action: "delay", delay: 3600 });
  const send = await t.addStep(s.id, { action: "send_email", parent_id: wait.id, subject: "Day one", body: "<p>One</p>" });
  await t.enroll(s.id, "bo@example.com");
  await t.run();
  expect(t.enrollment(s.id, "bo@example.com")).toMatchObject({ status: "active", current_step_id: wait.id, next_trigger_at: t.clock.now() + HOUR });
  t.clock.advance(HOUR - 1000);
  await t.run();
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE sequence_id = ?", s.id)[0].n).toBe(0);
  t.clock.advance(1000);
  expect(await t.scheduler.tick(t.clock.now())).toBe(false);
  // Queued, not yet delivered: the step changes now, the queued mail keeps what it was queued with.
  await t.server.request("PATCH", `/api/v1/sequences/${s.id}/steps/${send.id}`, { body: { subject: "Edited", body: "<p>Edited</p>" } });
  await t.run();
  const [mail] = await sink.waitFor(1);
  expect(mail!.parsed.subject).toBe("Day one");
  expect(t.enrollment(s.id, "bo@example.com").status).toBe("completed");
});

test("delay_until_time: the next wall-clock time in the channel's zone, across the spring-forward change", async () => {
  await t.server.request("PATCH", "/api/v1/channels/default", { body: { timezone: "Europe/Berlin" } });
  // Saturday 2026-03-28 12:00 UTC (13:00 in Berlin, CET); Berlin moves to CEST on Sunday 29 at 02:00.
  t.clock.set(Date.UTC(2026, 2, 28, 12, 0));
  const s = await t.sequence();
  const first = await t.addStep(s.id, { action: "delay_until_time", delay_until_time: "09:00" });
  const second = await t.addStep(s.id, { action: "delay_until_time", delay_until_time: "09:00", parent_id: first.id });
  await t.addStep(s.id, { action: "send_email", parent_id: second.id, subject: "Morning", body: "<p>Good morning</p>" });
  await t.enroll(s.id, "cy@example.com");
  await t.run();
  // 09:00 CEST on Sunday is 07:00 UTC (CET would have been 08:00).
  expect(t.enrollment(s.id, "cy@example.com")).toMatchObject({ current_step_id: first.id, next_trigger_at: Date.UTC(2026, 2, 29, 7, 0) });
  t.clock.set(Date.UTC(2026, 2, 29, 7, 0));
  await t.run();
  expect(t.enrollment(s.id, "cy@example.com")).toMatchObject({ current_step_id: second.id, next_trigger_at: Date.UTC(2026, 2, 30, 7, 0) });
  t.clock.set(Date.UTC(2026, 2, 30, 7, 0));
  await t.run();
  expect((await sink.waitFor(1))[0]!.parsed.subject).toBe("Morning");
});

test("a subscriber no longer eligible (suppressed) is skipped by send_email and goes on; inactive sequences hold their due rows", async () => {
  const s = await t.sequence();
  await t.addStep(s.id, { action: "send_email", subject: "Hi", body: "<p>Hi</p>" });
  await t.enroll(s.id, "dee@example.com");
  await t.server.request("POST", "/api/v1/suppressions", { body: { channel: "default", email: "dee@example.com" } });
  await t.server.request("PATCH", `/api/v1/sequences/${s.id}`, { body: { active: false } });
  expect(await t.scheduler.tick(t.clock.now())).toBe(false);
  expect(t.enrollment(s.id, "dee@example.com")).toMatchObject({ status: "active", current_step_id: s.entry_point_id });
  await t.server.request("PATCH", `/api/v1/sequences/${s.id}`, { body: { active: true } });
  await t.run();
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE sequence_id = ?", s.id)[0].n).toBe(0);
  expect(t.enrollment(s.id, "dee@example.com").status).toBe("completed");
});

test("an inactive sequence's backlog of due rows is never read: the query walks the due index of active sequences only", async () => {
  const idle = await t.sequence({ label: "Paused campaign" });
  await t.addStep(idle.id, { action: "send_email", subject: "Later", body: "<p>Later</p>" });
  await t.server.request("PATCH", `/api/v1/sequences/${idle.id}`, { body: { active: false } });
  const live = await t.sequence({ label: "Live" });
  await t.addStep(live.id, { action: "send_email", subject: "Now", body: "<p>Now</p>" });
  t.server.sql(
    `INSERT INTO subscribers (channel_id, email, tags, custom_data, created_at, updated_at)
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
     SELECT 1, 'idle' || i || '@example.com', '[]', '{}', ?1, ?1 FROM n`,
    t.clock.now(),
  );
  // Due earlier than anything of the live sequence.
  t.server.sql(
    `INSERT INTO subscriber_sequences (sequence_id, subscriber_id, channel_id, status, current_step_id, next_trigger_at, started_at, created_at, updated_at)
     SELECT ?1, id, 1, 'active', ?2, ?3, ?3, ?3, ?3 FROM subscribers WHERE email LIKE 'idle%'`,
    idle.id,
    idle.entry_point_id,
    t.clock.now() - 60_000,
  );
  await t.enroll(live.id, "fay@example.com");
  const plan = t.server.sql(`EXPLAIN QUERY PLAN ${DUE_SQL}`, t.clock.now(), 500).map((r) => r.detail as string);
  expect(plan).toContainEqual(expect.stringMatching(/^SEARCH subscriber_sequences USING (COVERING )?INDEX subscriber_sequences_due_idx \(sequence_id=\? AND /));
  // Only the sequences table is scanned, never the enrollments.
  expect(plan.filter((d) => d.startsWith("SCAN"))).toEqual(["SCAN s"]);
  expect(await t.scheduler.tick(t.clock.now())).toBe(false);
  expect(t.enrollment(live.id, "fay@example.com").status).toBe("completed");
  expect(t.server.sql("SELECT count(*) AS n FROM subscriber_sequences WHERE sequence_id = ? AND status = 'active'", idle.id)[0].n).toBe(2000);
});

test("restart: a server started on the same database file carries on from the stored due time", async () => {
  const s = await t.sequence();
  const wait = await t.addStep(s.id, { action: "delay", delay: 120 });
  await t.addStep(s.id, { action: "send_email", parent_id: wait.id, subject: "After restart", body: "<p>Still here</p>" });
  await t.enroll(s.id, "eve@example.com");
  await t.run();
  expect(t.enrollment(s.id, "eve@example.com").current_step_id).toBe(wait.id);
  const dataDir = t.server.dataDir;
  // Stop without removing the data dir (afterEach removes it).
  await t.server.running.stop();
  t.clock.advance(120_000);
  const again = await startTestServer({ clock: t.clock, startJobs: false, dataDir });
  try {
    expect(await again.running.jobs.get("sequences.scheduler")!.tick(t.clock.now())).toBe(false);
    await again.running.delivery.tick(t.clock.now());
    expect((await sink.waitFor(1))[0]!.parsed.subject).toBe("After restart");
    expect(again.sql("SELECT status FROM subscriber_sequences")[0].status).toBe("completed");
  } finally {
    await again.stop();
  }
});
