/**
 * An opt-in form's `automation_settings.sequence_ids` reads ids as every body id reference does
 * (docs/api-reference.md §1.2: digit strings too; it refused `["5"]` with 422), at most 50, and the
 * hosted form then enrolls into them.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
let sequence: { id: number };
beforeAll(async () => {
  server = await startTestServer({ startJobs: false });
  sequence = (await server.request("POST", "/api/v1/sequences", { body: { channel: "default", label: "Welcome", active: true } })).body;
});
afterAll(() => server.stop());

const createForm = (automation: Record<string, unknown>) =>
  server.request("POST", "/api/v1/opt_in_forms", { body: { channel: "default", opt_in_form: { label: "Signup", form_type: "web", automation_settings: automation } } });

test("sequence_ids given as digit strings are stored as ids and enroll on submission", async () => {
  const res = await createForm({ sequence_ids: [String(sequence.id), sequence.id] });
  expect(res.status).toBe(201);
  expect(res.body.automation_settings.sequence_ids).toEqual([sequence.id]);
  const submit = await fetch(`${server.url}/f/${res.body.identifier}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "digits@example.com" }) });
  expect(await submit.json()).toEqual({ ok: true, status: "subscribed" });
  expect(server.sql("SELECT e.sequence_id, e.status FROM subscriber_sequences e JOIN subscribers s ON s.id = e.subscriber_id WHERE s.email = 'digits@example.com'")).toEqual([
    { sequence_id: sequence.id, status: "active" },
  ]);
});

test("bad sequence_ids → 422 by dot-path, nothing stored; null clears", async () => {
  const tooMany = await createForm({ sequence_ids: Array.from({ length: 51 }, (_, i) => i + 1) });
  expect([tooMany.status, tooMany.body.errors]).toEqual([422, { "opt_in_form.automation_settings.sequence_ids": ["has too many ids (maximum is 50)"] }]);
  const bad = await createForm({ sequence_ids: ["a", -1, sequence.id] });
  expect([bad.status, bad.body.errors]).toEqual([422, { "opt_in_form.automation_settings.sequence_ids.0": ["must be an id"], "opt_in_form.automation_settings.sequence_ids.1": ["must be an id"] }]);
  expect(server.sql("SELECT count(*) AS n FROM opt_in_forms")[0].n).toBe(1);
  const cleared = await createForm({ sequence_ids: null });
  expect([cleared.status, cleared.body.automation_settings.sequence_ids]).toEqual([201, []]);
});
