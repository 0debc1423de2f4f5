/**
 * §6 step tree over real HTTP: actions and their fields, splice on insert, move with cycle checks,
 * condition branches, delete (re-attach, cascade, root), pre-order listing, enrollments on a deleted step.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestChannel } from "../fixtures";
import { fakeClock, startTestServer, type TestServer } from "../harness";

const clock = fakeClock();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ clock, startJobs: false });
  createTestChannel(server.deps, "Other");
});
afterAll(() => server.stop());

async function sequence(body: Record<string, unknown> = {}) {
  const res = await server.request("POST", "/api/v1/sequences", { body: { channel: "default", label: "Tree", ...body } });
  return res.body as { id: number; entry_point_id: number };
}
const addStep = (seq: number, body: Record<string, unknown>) => server.request("POST", `/api/v1/sequences/${seq}/steps`, { body });
const tree = async (seq: number) =>
  ((await server.request("GET", `/api/v1/sequences/${seq}/steps`)).body.data as any[]).map((s) => [s.label ?? s.action, s.parent_id, s.branch, s.position]);

describe("steps", () => {
  test("every action is stored with its fields; unused fields are null and warned about", async () => {
    const s = await sequence();
    const target = await sequence({ label: "Target" });
    const template = await server.request("POST", "/api/v1/templates", { body: { channel: "default", label: "T", subject: "S", body: "B" } });
    const bodies = [
      { action: "delay", delay: 3600 },
      { action: "delay_until_time", delay_until_time: "09:30", delay_until_timezone: "Europe/Paris" },
      { action: "send_email", subject: "Hi {{ first_name }}", body: "<p>Hi</p>", preheader: "Pre" },
      { action: "send_email", template_id: template.body.id },
      { action: "move_to_sequence", target_sequence_id: target.id },
      { action: "add_tag_to_subscriber", taggify_list: "b,a" },
      { action: "remove_tag_from_subscriber", tags: ["x"] },
      { action: "deactivate_subscriber" },
      { action: "make_http_request", http_url: "https://hooks.example.com/x", http_headers: { "X-Key": "1" }, http_body: "{{ email }}" },
    ];
    const made = [];
    for (const body of bodies) {
      const res = await addStep(s.id, { sequence_step: body });
      expect(res.status).toBe(201);
      made.push(res.body);
    }
    expect(made[0]).toMatchObject({ action: "delay", delay: 3600, subject: null, parent_id: s.entry_point_id, branch: null, sequence_id: s.id });
    expect(made[1]).toMatchObject({ delay_until_time: "09:30", delay_until_timezone: "Europe/Paris" });
    expect(made[2]).toMatchObject({ subject: "Hi {{ first_name }}", body: "<p>Hi</p>", preheader: "Pre", html_body: true, template_id: null });
    expect(made[5].taggify_list).toBe("a,b");
    expect(made[6].taggify_list).toBe("x");
    expect(made[8]).toMatchObject({ http_method: "POST", http_headers: { "X-Key": "1" } });
    const ignored = await addStep(s.id, { action: "delay", delay: 60, subject: "nope" });
    expect(ignored.body.subject).toBeNull();
    expect(ignored.body.warnings).toEqual([{ code: "parameter_ignored", param: "subject", message: "subject is not used by delay steps and was ignored" }]);
    const template_in_use = await server.request("DELETE", `/api/v1/templates/${template.body.id}`);
    expect(template_in_use.body.error).toBe(`Template is in use by: sequence_step ${made[3].id}`);
  });

  test("validation of each action's fields", async () => {
    const s = await sequence();
    const foreign = await server.request("POST", "/api/v1/sequences", { body: { channel: "other", label: "F" } });
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [{ action: "delay", delay: 59 }, { delay: ["must be greater than or equal to 60"] }],
      [{ action: "delay", delay: 31_536_001 }, { delay: ["must be less than or equal to 31536000"] }],
      [{ action: "delay" }, { delay: ["can't be blank"] }],
      [{ action: "delay_until_time", delay_until_time: "25:00", delay_until_timezone: "Mars/Base" }, { delay_until_time: ["is invalid"], delay_until_timezone: ["is not a valid IANA time zone"] }],
      [{ action: "send_email", subject: "S" }, { body: ["can't be blank unless template_id is given"] }],
      [{ action: "send_email", template_id: 99999 }, { template_id: ["does not exist in this channel"] }],
      [{ action: "send_email", subject: "{% if %}", body: "b" }, { subject: [expect.any(String)] as never }],
      [{ action: "condition", condition_setting: "sometimes" }, { condition_setting: ["is not included in the list"] }],
      [{ action: "move_to_sequence", target_sequence_id: s.id }, { target_sequence_id: ["can't be the sequence itself"] }],
      [{ action: "move_to_sequence", target_sequence_id: foreign.body.id }, { target_sequence_id: ["does not exist in this channel"] }],
      [{ action: "add_tag_to_subscriber" }, { taggify_list: ["can't be blank"] }],
      [{ action: "make_http_request", http_url: "http://example.com/" }, { http_url: ["must use https"] }],
      [{ action: "make_http_request", http_url: "https://10.0.0.1/" }, { http_url: ["must not point to a loopback, private or reserved address"] }],
      [{ action: "make_http_request", http_url: "https://x.example/", http_method: "PUT" }, { http_method: ["is not included in the list"] }],
      [{ action: "make_http_request", http_url: "https://x.example/", http_headers: { "X-A": "1\r\nX-B: 2" } }, { http_headers: ["must be an object of header names to string values"] }],
      [{ action: "entry_point" }, { action: ["is not included in the list"] }],
      [{ action: "delay", delay: 60, parent_id: 99999 }, { parent_id: ["does not exist in this sequence"] }],
      [{ action: "delay", delay: 60, branch: "yes" }, { branch: ["can only be set under a condition step"] }],
    ];
    for (const [body, errors] of cases) {
      const res = await addStep(s.id, body);
      expect([res.status, res.body.errors]).toEqual([422, errors]);
    }
    expect(await tree(s.id)).toHaveLength(1);
  });

  test("insert splices into an occupied slot; condition branches; pre-order positions", async () => {
    const s = await sequence();
    const a = await addStep(s.id, { action: "delay", delay: 60, label: "A" });
    // Into the root's slot again: A moves under B.
    const b = await addStep(s.id, { action: "condition", condition_setting: "any_email_opened", label: "B" });
    expect(await tree(s.id)).toEqual([["entry_point", null, null, 0], ["B", s.entry_point_id, null, 1], ["A", b.body.id, "yes", 2]]);
    const missing = await addStep(s.id, { action: "delay", delay: 60, parent_id: b.body.id });
    expect(missing.body.errors).toEqual({ branch: ["must be yes or no under a condition step"] });
    const no = await addStep(s.id, { action: "deactivate_subscriber", parent_id: b.body.id, branch: "no", label: "N" });
    const yes = await addStep(s.id, { action: "delay", delay: 120, parent_id: b.body.id, branch: "yes", label: "Y" });
    expect(await tree(s.id)).toEqual([
      ["entry_point", null, null, 0],
      ["B", s.entry_point_id, null, 1],
      ["Y", b.body.id, "yes", 2],
      ["A", yes.body.id, null, 3],
      ["N", b.body.id, "no", 4],
    ]);
    const full = await server.request("GET", `/api/v1/sequences/${s.id}?include_steps=1`);
    expect(full.body.steps.map((x: any) => x.id)).toEqual([s.entry_point_id, b.body.id, yes.body.id, a.body.id, no.body.id]);
    const one = await server.request("GET", `/api/v1/sequences/${s.id}/steps/${no.body.id}`);
    expect(one.body).toMatchObject({ id: no.body.id, action: "deactivate_subscriber", branch: "no", position: 4 });
    expect((await server.request("GET", `/api/v1/sequences/${s.id}/steps/${s.entry_point_id + 100000}`)).body).toEqual({ error: "Step not found" });
  });

  test("patch: action immutable, fields re-checked on the merged step", async () => {
    const s = await sequence();
    const d = await addStep(s.id, { action: "delay", delay: 60 });
    const res = await server.request("PATCH", `/api/v1/sequences/${s.id}/steps/${d.body.id}`, { body: { step: { action: "send_email", delay: 120, label: "Wait" } } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ action: "delay", delay: 120, label: "Wait" });
    expect(res.body.warnings).toEqual([{ code: "parameter_ignored", param: "step.action", message: "step.action is immutable and was ignored" }]);
    const bad = await server.request("PATCH", `/api/v1/sequences/${s.id}/steps/${d.body.id}`, { body: { delay: null } });
    expect(bad.body.errors).toEqual({ delay: ["can't be blank"] });
  });

  test("move: subtree comes along; 422 on root, cycle and foreign ids", async () => {
    const s = await sequence();
    const other = await sequence({ label: "Other tree" });
    const a = await addStep(s.id, { action: "delay", delay: 60, label: "A" });
    const b = await addStep(s.id, { action: "delay", delay: 60, label: "B", parent_id: a.body.id });
    const c = await addStep(s.id, { action: "delay", delay: 60, label: "C", parent_id: b.body.id });
    const move = (id: number, body: Record<string, unknown>) => server.request("POST", `/api/v1/sequences/${s.id}/steps/${id}/move`, { body });
    expect((await move(a.body.id, { under_id: c.body.id })).body.errors).toEqual({ under_id: ["is the step itself or one of its descendants (the tree would have a cycle)"] });
    expect((await move(a.body.id, { under_id: a.body.id })).status).toBe(422);
    expect((await move(s.entry_point_id, { under_id: a.body.id })).body.error).toBe("The entry point can't be moved");
    expect((await move(a.body.id, { under_id: other.entry_point_id })).body.errors).toEqual({ under_id: ["does not exist in this sequence"] });
    expect((await move(a.body.id, {})).body.errors).toEqual({ under_id: ["can't be blank"] });
    // Under the root, A would have to move under B, but B keeps C under it: no free slot.
    expect((await move(b.body.id, { under_id: s.entry_point_id })).status).toBe(422);
    const moved = await move(c.body.id, { under_id: s.entry_point_id });
    expect(moved.status).toBe(200);
    expect(await tree(s.id)).toEqual([["entry_point", null, null, 0], ["C", s.entry_point_id, null, 1], ["A", c.body.id, null, 2], ["B", a.body.id, null, 3]]);
  });

  test("delete: root refused, child re-attached, condition needs cascade, enrollments move on or complete", async () => {
    const s = await sequence({ active: true });
    const a = await addStep(s.id, { action: "delay", delay: 3600, label: "A" });
    const cond = await addStep(s.id, { action: "condition", condition_setting: "any_email_clicked", label: "C", parent_id: a.body.id });
    const yes = await addStep(s.id, { action: "delay", delay: 60, label: "Y", parent_id: cond.body.id, branch: "yes" });
    const del = (id: number, body?: unknown) => server.request("DELETE", `/api/v1/sequences/${s.id}/steps/${id}`, { body });
    expect((await del(s.entry_point_id)).body.error).toBe("The entry point can't be deleted");
    expect((await del(cond.body.id)).body.error).toBe("A condition step with steps under it can only be deleted with cascade: true");
    const enrolled = await server.request("POST", `/api/v1/sequences/${s.id}/add_subscriber`, { body: { email: "tree@example.com" } });
    server.sql("UPDATE subscriber_sequences SET current_step_id = ? WHERE id = ?", a.body.id, enrolled.body.id);
    expect(await del(a.body.id)).toMatchObject({ status: 200, body: { message: "Step deleted successfully" } });
    expect(await tree(s.id)).toEqual([["entry_point", null, null, 0], ["C", s.entry_point_id, null, 1], ["Y", cond.body.id, "yes", 2]]);
    // The waiting enrollment now stands on C, due at once (a condition runs on arrival).
    expect(server.sql("SELECT current_step_id, next_trigger_at, status FROM subscriber_sequences WHERE id = ?", enrolled.body.id)[0]).toEqual({ current_step_id: cond.body.id, next_trigger_at: clock.now(), status: "active" });
    server.sql("UPDATE subscriber_sequences SET current_step_id = ? WHERE id = ?", yes.body.id, enrolled.body.id);
    expect((await del(cond.body.id, { cascade: true })).status).toBe(200);
    expect(await tree(s.id)).toEqual([["entry_point", null, null, 0]]);
    const row = server.sql("SELECT status, completed_at FROM subscriber_sequences WHERE id = ?", enrolled.body.id)[0];
    expect(row).toEqual({ status: "completed", completed_at: clock.now() });
    expect(server.sql("SELECT type FROM events WHERE type = 'sequence.subscriber_completed' AND subscriber_id = ?", enrolled.body.subscriber.id)).toHaveLength(1);
  });

  test("at most 500 steps per sequence", async () => {
    const s = await sequence();
    const now = clock.now();
    const insert = server.deps.database.raw.prepare("INSERT INTO sequence_steps (sequence_id, action, parent_id, delay, position, created_at, updated_at) VALUES (?, 'delay', NULL, 60, 1, ?, ?)");
    for (let i = 0; i < 499; i++) insert.run(s.id, now, now);
    const res = await addStep(s.id, { action: "delay", delay: 60 });
    expect([res.status, res.body.error]).toEqual([422, "Sequence has too many steps (maximum is 500)"]);
  });
});
