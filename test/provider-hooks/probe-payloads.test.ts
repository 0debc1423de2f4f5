/**
 * Probe: signed SendGrid batches of hostile shapes — kinds named after Object.prototype members,
 * fields of the wrong type, the same event twice in one batch, a batch at the size limit. Every
 * post gets a 2xx or 4xx, nothing half-written, only real bounces of our own recipients applied.
 */
import { expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { eachProviderServer, type HookTest } from "./helpers";

const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const verificationKey = keys.publicKey.export({ format: "der", type: "spki" }).toString("base64");
let t: HookTest;
eachProviderServer("sendgrid", "sendgrid", () => ({ webhook_public_key: verificationKey }), (test) => (t = test));

const post = (events: unknown) => postRaw(JSON.stringify(events));
function postRaw(body: string) {
  const timestamp = String(Math.floor(t.clock.now() / 1000));
  const signature = sign("sha256", Buffer.from(timestamp + body), keys.privateKey).toString("base64");
  return t.post(body, { "x-twilio-email-event-webhook-signature": signature, "x-twilio-email-event-webhook-timestamp": timestamp });
}

test("a dropped event whose reason is an Object.prototype name is not a report: 200, nothing recorded", async () => {
  const m = await t.delivered("ada@example.org");
  const res = await post(["constructor", "__proto__", "toString"].map((reason, i) => ({ event: "dropped", reason, email: "ada@example.org", "smtp-id": m.message_id, sg_event_id: `e${i}` })));
  expect(res).toEqual({ status: 200, body: { received: 0, applied: 0, replayed: 0 } });
  expect(t.suppression("ada@example.org")).toBeUndefined();
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(0);
});

test("fields of the wrong type are skipped or read as absent; the same event twice in a batch applies once", async () => {
  const m = await t.delivered("bob@example.org");
  const good = { event: "bounce", type: "bounce", email: "bob@example.org", "smtp-id": m.message_id, sg_event_id: "same", timestamp: Math.floor(t.clock.now() / 1000) };
  const res = await post([
    null, 1, "x", [], { ...good, email: 42 }, { ...good, email: ["bob@example.org"], sg_event_id: "arr" },
    { ...good, "smtp-id": { a: 1 }, sg_event_id: "obj" }, { ...good, timestamp: "soon", sg_event_id: 7 }, { ...good, event: { toString: 1 } },
    good, good,
  ]);
  expect(res.status).toBe(200);
  expect(res.body.applied).toBe(1);
  expect(t.suppression("bob@example.org")?.reason).toBe("hard_bounce");
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(1);
});

test("1,000 events is accepted in one transaction; 1,001 is 400 and nothing recorded", async () => {
  const m = await t.delivered("cy@example.org");
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ event: "bounce", type: "blocked", email: `x${i}@example.org`, "smtp-id": m.message_id, sg_event_id: `b${n}-${i}` }));
  const over = await post(many(1001));
  expect(over.status).toBe(400);
  expect(over.body.error).toBe("Invalid payload");
  expect(t.seenEvents()).toBe(0);
  const ok = await post(many(1000));
  expect(ok).toEqual({ status: 200, body: { received: 1000, applied: 0, replayed: 0 } });
  expect(t.seenEvents()).toBe(1000);
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(0);
});

test("a signed batch nesting 100,000 levels deep is 400 (as the API's JSON bodies), not a 500 from building an event id", async () => {
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  const res = await postRaw(`[{"event":"bounce","type":"bounce","email":"dee@example.org","smtp-id":"<x@example.org>","timestamp":${deep}}]`);
  expect(res).toEqual({ status: 400, body: { error: "Invalid payload", message: "JSON nesting exceeds 64 levels" } });
  expect(t.seenEvents()).toBe(0);
});
