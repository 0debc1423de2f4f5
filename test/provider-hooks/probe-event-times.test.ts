/**
 * A verified provider event whose time is not a plausible one (far future, before 1970, beyond what
 * a Date can hold) is recorded at the time it was received: its own time once broke the events feed
 * (500 on every GET /events) and would have counted in every soft-bounce window.
 */
import { expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { eachProviderServer, type HookTest } from "./helpers";

const SIGNING_KEY = "key-probe-times";
let t: HookTest;
eachProviderServer("mailgun", "mailgun", () => ({ webhook_signing_key: SIGNING_KEY }), (test) => (t = test));

function signed(eventData: Record<string, unknown>) {
  const timestamp = String(Math.floor(t.clock.now() / 1000));
  const token = randomBytes(25).toString("hex");
  const signature = createHmac("sha256", SIGNING_KEY).update(timestamp + token).digest("hex");
  return JSON.stringify({ signature: { timestamp, token, signature }, "event-data": eventData });
}

test("event times out of range are recorded as received; the events feed still answers", async () => {
  const cases = [
    ["far-future", 1e20],
    ["before-1970", -1e15],
    ["next-year", t.clock.now() / 1000 + 365 * 86400],
  ] as const;
  for (const [id, seconds] of cases) {
    const m = await t.delivered(`${id}@example.com`);
    const event = { id, event: "failed", severity: "temporary", timestamp: seconds, recipient: `${id}@example.com`, message: { headers: { "message-id": m.message_id.replace(/^<|>$/g, "") } } };
    expect(await t.post(signed(event))).toEqual({ status: 200, body: { received: 1, applied: 1, replayed: 0 } });
  }
  const stored = t.server.sql("SELECT email, occurred_at FROM delivery_reports ORDER BY id");
  expect(stored).toEqual(cases.map(([id]) => ({ email: `${id}@example.com`, occurred_at: t.clock.now() })));
  const feed = await t.server.request("GET", "/api/v1/events?type=email.soft_bounced");
  expect(feed.status).toBe(200);
  expect(feed.body.data).toHaveLength(3);
  expect(feed.body.data.map((e: any) => e.occurred_at)).toEqual(cases.map(() => new Date(t.clock.now()).toISOString()));
});
