/**
 * Sequences that send subscribers round a loop with no wait (move_to_sequence A → B → A, or tag steps
 * that start each other's init_tag) stop after one round: re-entering a sequence entered less than a
 * minute ago is skipped (the move reported as sequence.subscriber_error). Without that, every tick
 * made a new enrollment and the scheduler never went idle (the database grew without end).
 * A loop that waits at least a minute still goes round.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { startSchedulerTest, type SchedulerTest } from "./scheduler-helpers";

let t: SchedulerTest;
beforeEach(async () => void (t = await startSchedulerTest()));
afterEach(() => t.stop());

const enrollmentsOf = (email: string) =>
  t.server.sql("SELECT e.sequence_id, e.status FROM subscriber_sequences e JOIN subscribers s ON s.id = e.subscriber_id WHERE s.email = ? ORDER BY e.id", email);

test("move_to_sequence A → B → A with no wait: one round, the move back is an error and B completes", async () => {
  const a = await t.sequence({ label: "A" });
  const b = await t.sequence({ label: "B" });
  await t.addStep(a.id, { action: "move_to_sequence", target_sequence_id: b.id });
  await t.addStep(b.id, { action: "move_to_sequence", target_sequence_id: a.id });
  await t.enroll(a.id, "loop@example.com");
  await t.run();
  expect(enrollmentsOf("loop@example.com")).toEqual([
    { sequence_id: a.id, status: "completed" },
    { sequence_id: b.id, status: "completed" },
  ]);
  expect(t.sequenceEvents("loop@example.com")).toEqual([
    "sequence.subscriber_added",
    "sequence.subscriber_moved",
    "sequence.subscriber_added",
    "sequence.subscriber_error",
    "sequence.subscriber_completed",
  ]);
  const error = JSON.parse(t.server.sql("SELECT data FROM events WHERE type = 'sequence.subscriber_error'")[0].data);
  expect(error).toMatchObject({ sequence: { id: b.id }, error: `move_to_sequence: the subscriber entered sequence ${a.id} less than a minute ago (moves in a loop with no wait)` });
  expect(await t.scheduler.tick(t.clock.now())).toBe(false);
});

test("a loop that waits a minute goes round again", async () => {
  const a = await t.sequence({ label: "A" });
  const b = await t.sequence({ label: "B" });
  const wait = await t.addStep(a.id, { action: "delay", delay: 60 });
  await t.addStep(a.id, { action: "move_to_sequence", target_sequence_id: b.id, parent_id: wait.id });
  await t.addStep(b.id, { action: "move_to_sequence", target_sequence_id: a.id });
  await t.enroll(a.id, "round@example.com");
  await t.run();
  t.clock.advance(60_000);
  await t.run();
  expect(enrollmentsOf("round@example.com")).toEqual([
    { sequence_id: a.id, status: "completed" },
    { sequence_id: b.id, status: "completed" },
    { sequence_id: a.id, status: "active" },
  ]);
});

test("tag steps that start each other's init_tag with no wait: one round, then the subscriber rests", async () => {
  const a = await t.sequence({ label: "A", init_tag: "a" });
  const b = await t.sequence({ label: "B", init_tag: "b" });
  const dropA = await t.addStep(a.id, { action: "remove_tag_from_subscriber", tags: ["a"] });
  await t.addStep(a.id, { action: "add_tag_to_subscriber", tags: ["b"], parent_id: dropA.id });
  const dropB = await t.addStep(b.id, { action: "remove_tag_from_subscriber", tags: ["b"] });
  await t.addStep(b.id, { action: "add_tag_to_subscriber", tags: ["a"], parent_id: dropB.id });
  expect((await t.server.request("POST", "/api/v1/subscribers", { body: { channel: "default", email: "tags@example.com", tags: ["a"] } })).status).toBe(201);
  await t.run();
  expect(enrollmentsOf("tags@example.com")).toEqual([
    { sequence_id: a.id, status: "completed" },
    { sequence_id: b.id, status: "completed" },
  ]);
  expect(JSON.parse(t.server.sql("SELECT tags FROM subscribers WHERE email = 'tags@example.com'")[0].tags)).toEqual(["a"]);
  expect(t.server.log.lines().filter((l) => l.event === "sequence.reentry_skipped").map((l) => l.sequence_id)).toEqual([a.id]);
});
