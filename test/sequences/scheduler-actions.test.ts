/**
 * The scheduler's other actions on a real server: move_to_sequence, tag steps (through the
 * subscribers service: events, init_tag enrollment), deactivate_subscriber (paused, resumed at the
 * next step), a redacted subscriber (removed), and a send held by a full monthly quota.
 */
import { expect, test } from "bun:test";
import { eachWithSink } from "../outbox/helpers";
import type { SmtpSink } from "../smtp-sink";
import { startSchedulerTest, type SchedulerTest } from "./scheduler-helpers";

let t: SchedulerTest;
let sink: SmtpSink;
eachWithSink(startSchedulerTest, (test, s) => ((t = test), (sink = s)));

const api = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
const tagsOf = (email: string) => JSON.parse(t.server.sql("SELECT tags FROM subscribers WHERE email = ?", email)[0].tags);

test("move_to_sequence: this enrollment ends with subscriber_moved, the target enrolls and runs", async () => {
  const target = await t.sequence({ label: "Target" });
  await t.addStep(target.id, { action: "send_email", subject: "From the target", body: "<p>Moved</p>" });
  const s = await t.sequence();
  const move = await t.addStep(s.id, { action: "move_to_sequence", target_sequence_id: target.id });
  await t.enroll(s.id, "mo@example.com");
  await t.run();
  expect(t.enrollment(s.id, "mo@example.com")).toMatchObject({ status: "completed", current_step_id: move.id, next_trigger_at: null });
  expect(t.enrollment(target.id, "mo@example.com").status).toBe("completed");
  expect((await sink.waitFor(1))[0]!.parsed.subject).toBe("From the target");
  expect(t.sequenceEvents("mo@example.com")).toEqual([
    "sequence.subscriber_added",
    "sequence.subscriber_moved",
    "sequence.subscriber_added",
    "sequence.subscriber_completed",
  ]);
  const moved = t.server.sql("SELECT data FROM events WHERE type = 'sequence.subscriber_moved'")[0];
  expect(JSON.parse(moved.data)).toMatchObject({ sequence: { id: s.id }, to_sequence_id: target.id });
});

test("move_to_sequence to an inactive target: moved, not enrolled there", async () => {
  const target = await t.sequence({ label: "Dormant", active: false });
  const s = await t.sequence();
  await t.addStep(s.id, { action: "move_to_sequence", target_sequence_id: target.id });
  await t.enroll(s.id, "dormant@example.com");
  await t.run();
  expect(t.enrollment(s.id, "dormant@example.com").status).toBe("completed");
  expect(t.enrollment(target.id, "dormant@example.com")).toBeUndefined();
});

test("tag steps add and remove through the subscribers service; an added init_tag enrolls in its sequence", async () => {
  const byTag = await t.sequence({ label: "VIP track", init_tag: "vip" });
  const s = await t.sequence();
  const add = await t.addStep(s.id, { action: "add_tag_to_subscriber", taggify_list: "vip,trial" });
  await t.addStep(s.id, { action: "remove_tag_from_subscriber", taggify_list: "lead", parent_id: add.id });
  await t.enroll(s.id, "tag@example.com", { tags: ["lead"] });
  await t.run();
  expect(tagsOf("tag@example.com")).toEqual(["trial", "vip"]);
  expect(t.server.sql("SELECT tag FROM subscriber_tags st JOIN subscribers s ON s.id = st.subscriber_id WHERE s.email = 'tag@example.com' ORDER BY tag").map((r) => r.tag)).toEqual(["trial", "vip"]);
  expect(t.server.sql("SELECT count(*) AS n FROM events WHERE type = 'subscriber.updated'")[0].n).toBe(2);
  expect(t.enrollment(byTag.id, "tag@example.com").status).toBe("completed");
  expect(t.enrollment(s.id, "tag@example.com").status).toBe("completed");
});

test("deactivate_subscriber: is_active false, the enrollment pauses before its next step; activating resumes it there", async () => {
  const s = await t.sequence();
  const off = await t.addStep(s.id, { action: "deactivate_subscriber" });
  const after = await t.addStep(s.id, { action: "add_tag_to_subscriber", taggify_list: "after", parent_id: off.id });
  await t.enroll(s.id, "off@example.com");
  await t.run();
  expect(t.server.sql("SELECT is_active FROM subscribers WHERE email = 'off@example.com'")[0].is_active).toBe(0);
  expect(t.enrollment(s.id, "off@example.com")).toMatchObject({ status: "paused", current_step_id: after.id });
  expect(tagsOf("off@example.com")).toEqual([]);
  expect(t.sequenceEvents("off@example.com")).toEqual(["sequence.subscriber_added", "sequence.subscriber_paused"]);
  await api("POST", "/subscribers/activate", { channel: "default", email: "off@example.com" });
  await t.run();
  expect(tagsOf("off@example.com")).toEqual(["after"]);
  expect(t.enrollment(s.id, "off@example.com").status).toBe("completed");
});

test("a redacted subscriber's enrollment is removed at once (sequence.subscriber_removed); nothing is sent when its step falls due", async () => {
  const s = await t.sequence();
  const wait = await t.addStep(s.id, { action: "delay", delay: 60 });
  await t.addStep(s.id, { action: "send_email", parent_id: wait.id, subject: "Hi", body: "<p>Hi</p>" });
  await t.enroll(s.id, "gone@example.com");
  await t.run();
  await api("POST", "/subscribers/redact", { channel: "default", email: "gone@example.com" });
  t.clock.advance(60_000);
  await t.run();
  const row = t.server.sql("SELECT status, completed_at FROM subscriber_sequences WHERE sequence_id = ?", s.id)[0];
  expect(row).toEqual({ status: "removed", completed_at: null });
  expect(t.server.sql("SELECT type FROM events WHERE type = 'sequence.subscriber_removed'").length).toBe(1);
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE sequence_id = ?", s.id)[0].n).toBe(0);
});

test("a full monthly quota holds send_email on its step (rechecked every 15 min); a raised cap lets it go", async () => {
  const s = await t.sequence();
  await t.addStep(s.id, { action: "send_email", subject: "Quota", body: "<p>Q</p>" });
  await api("PATCH", "/channels/default", { monthly_send_quota: 1 });
  await t.send();
  await t.enroll(s.id, "q@example.com");
  await t.run();
  const held = t.enrollment(s.id, "q@example.com");
  expect(held).toMatchObject({ status: "active", next_trigger_at: t.clock.now() + 15 * 60_000 });
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE sequence_id = ?", s.id)[0].n).toBe(0);
  await api("PATCH", "/channels/default", { monthly_send_quota: 10 });
  t.clock.advance(15 * 60_000);
  await t.run();
  expect(t.enrollment(s.id, "q@example.com").status).toBe("completed");
  const usage = t.server.sql("SELECT used FROM quota_usage")[0].used;
  expect(usage).toBe(2);
});
