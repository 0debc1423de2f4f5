/**
 * JSON posts to the hosted form (§10.1) that are not what a form sends: `custom` values that are
 * objects or arrays are left out like any non-scalar field (one was stored as "[object Object]"),
 * and a body that is not a JSON object in UTF-8 is a 400 `Invalid JSON body` (§1.4), not a 415.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
let identifier: string;
beforeAll(async () => {
  server = await startTestServer({ startJobs: false });
  const res = await server.request("POST", "/api/v1/opt_in_forms", {
    body: {
      channel: "default",
      opt_in_form: {
        label: "Plans",
        form_type: "web",
        security_settings: { submissions_per_ip_per_hour: 1000 },
        opt_in_form_blocks: [
          { block_type: "input_field", input_field_value_type: "email" },
          { block_type: "input_field", input_field_value_type: "custom:plan" },
          { block_type: "input_field", input_field_value_type: "custom:seats" },
        ],
      },
    },
  });
  identifier = res.body.identifier;
});
afterAll(() => server.stop());

const post = (body: string | Uint8Array) => fetch(`${server.url}/f/${identifier}`, { method: "POST", headers: { "content-type": "application/json" }, body });
const customData = (email: string) => JSON.parse(server.sql("SELECT custom_data FROM subscribers WHERE email = ?", email)[0].custom_data);

test("custom values that are objects or arrays are left out; strings and numbers kept", async () => {
  const res = await post(JSON.stringify({ email: "plans@example.com", custom: { plan: { tier: "pro" }, seats: 5 } }));
  expect(await res.json()).toEqual({ ok: true, status: "subscribed" });
  expect(customData("plans@example.com")).toEqual({ seats: "5" });
  await post(JSON.stringify({ email: "list@example.com", custom: { plan: ["pro"], seats: "3" } }));
  expect(customData("list@example.com")).toEqual({ seats: "3" });
});

test("a body that is not a JSON object in UTF-8 → 400 Invalid JSON body, nothing stored", async () => {
  for (const body of ["[]", "null", '"x"', "{", new Uint8Array([0x7b, 0xff, 0x7d])]) {
    const res = await post(body);
    expect([res.status, await res.json()]).toEqual([400, { error: "Invalid JSON body", message: "Send a JSON object in UTF-8" }]);
  }
  expect(server.sql("SELECT count(*) AS n FROM subscribers")[0].n).toBe(2);
});
