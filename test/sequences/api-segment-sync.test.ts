/**
 * `init_segment_id` (§6): the `sequences.segment_sync` job, stepped with the fake clock, enrolls the
 * eligible members of an active sequence's segment who were never enrolled, in batches, with events.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { fakeClock, startTestServer, type TestServer } from "../harness";

const clock = fakeClock();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ clock, startJobs: false });
});
afterAll(() => server.stop());

const api = (method: string, path: string, body?: unknown) => server.request(method, `/api/v1${path}`, { body });
const tick = () => server.running.jobs.get("sequences.segment_sync")!.tick(clock.now());
const enrolled = (sequenceId: number) =>
  server.sql("SELECT s.email FROM subscriber_sequences e JOIN subscribers s ON s.id = e.subscriber_id WHERE e.sequence_id = ? ORDER BY s.email", sequenceId).map((r) => r.email);

test("eligible members are enrolled once, in batches; inactive sequences wait; removed members are not re-enrolled", async () => {
  const segment = await api("POST", "/segments", {
    channel: "default",
    segment: { name: "Gmail", segment_groups_attributes: [{ match_type: "all", segment_rules_attributes: [{ field: "email", operator: "contains", value: "gmail.com" }] }] },
  });
  expect(segment.status).toBe(201);
  const s = (await api("POST", "/sequences", { channel: "default", label: "Synced", init_segment_id: segment.body.id })).body;
  await api("POST", "/subscribers/bulk", {
    channel: "default",
    subscribers: [...Array.from({ length: 520 }, (_, i) => ({ email: `m${String(i).padStart(3, "0")}@gmail.com` })), { email: "other@yahoo.com" }],
  });
  await api("POST", "/subscribers", { channel: "default", email: "gone@gmail.com" });
  await api("POST", "/subscribers/unsubscribe", { channel: "default", email: "gone@gmail.com" });

  // Inactive: nothing happens.
  expect(await tick()).toBe(false);
  expect(enrolled(s.id)).toEqual([]);

  await api("PATCH", `/sequences/${s.id}`, { active: true });
  expect(await tick()).toBe(true); // a full batch: more is due
  expect(enrolled(s.id)).toHaveLength(500);
  expect(await tick()).toBe(false);
  const all = enrolled(s.id);
  expect(all).toHaveLength(520);
  expect(all).not.toContain("gone@gmail.com");
  expect(all).not.toContain("other@yahoo.com");
  const row = server.sql("SELECT status, current_step_id, next_trigger_at FROM subscriber_sequences WHERE sequence_id = ? LIMIT 1", s.id)[0];
  expect(row).toEqual({ status: "active", current_step_id: s.entry_point_id, next_trigger_at: clock.now() });
  expect(server.sql("SELECT count(*) AS n FROM events WHERE type = 'sequence.subscriber_added'")[0].n).toBe(520);

  // A removed member stays out: only those never enrolled are added.
  await api("DELETE", `/sequences/${s.id}/remove_subscriber`, { email: "m000@gmail.com" });
  await api("POST", "/subscribers", { channel: "default", email: "late@gmail.com" });
  clock.advance(15 * 60_000);
  expect(await tick()).toBe(false);
  expect(enrolled(s.id)).toHaveLength(521);
  expect(server.sql("SELECT count(*) AS n FROM subscriber_sequences e JOIN subscribers s ON s.id = e.subscriber_id WHERE s.email = 'm000@gmail.com'")[0].n).toBe(1);
});
