/**
 * Probe: a Postmark record whose `Type` is an Object.prototype name (`constructor`, `toString`)
 * about a message we sent was read as a report kind and failed the write: a 500 Postmark retries.
 */
import { expect, test } from "bun:test";
import { eachProviderServer, type HookTest } from "./helpers";

let t: HookTest;
eachProviderServer("postmark", "postmark", () => ({ webhook_username: "u", webhook_password: "p" }), (test) => (t = test));
const AUTH = { authorization: `Basic ${Buffer.from("u:p").toString("base64")}` };

test.each(["constructor", "toString", "__proto__"])("a Bounce record of Type %s is accepted and changes nothing", async (type) => {
  const m = await t.delivered("ada@example.org");
  const record = { RecordType: "Bounce", ID: 1, Type: type, Email: "ada@example.org", Metadata: { "mailroom-id": String(m.id) } };
  const res = await t.post(JSON.stringify(record), AUTH);
  expect(res).toEqual({ status: 200, body: { received: 0, applied: 0, replayed: 0 } });
  expect(t.suppression("ada@example.org")).toBeUndefined();
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(0);
});

test("a record whose ID nests 100,000 levels deep is 400, not a 500", async () => {
  const body = `{"RecordType":"Bounce","Type":"HardBounce","Email":"ada@example.org","ID":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
  expect(await t.post(body, AUTH)).toEqual({ status: 400, body: { error: "Invalid payload", message: "JSON nesting exceeds 64 levels" } });
  expect(t.seenEvents()).toBe(0);
});
