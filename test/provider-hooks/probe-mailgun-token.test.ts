/**
 * Probe: Mailgun signs only `timestamp + token`, not the body. Whoever saw one signed post (a proxy
 * log, a request bin) could, for 5 minutes, post any event-data under that signature — e.g. a
 * harmless `delivered` post turned into a permanent failure for the same recipient. Mailgun's
 * guidance: a token is used once. A second post with a token already seen changes nothing.
 */
import { expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { eachProviderServer, type HookTest } from "./helpers";

const KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
let t: HookTest;
eachProviderServer("mailgun", "mailgun", () => ({ webhook_signing_key: KEY }), (test) => (t = test));

function signature() {
  const timestamp = String(Math.floor(t.clock.now() / 1000));
  const token = randomBytes(25).toString("hex");
  return { timestamp, token, signature: createHmac("sha256", KEY).update(timestamp + token).digest("hex") };
}
const post = (sig: ReturnType<typeof signature>, eventData: Record<string, unknown>) => t.post(JSON.stringify({ signature: sig, "event-data": eventData }));

test("a signature seen once cannot carry another body: the second post is a replay and records nothing", async () => {
  const m = await t.delivered("ada@example.org");
  const headers = { "message-id": m.message_id.replace(/^<|>$/g, "") };
  const sig = signature();
  expect(await post(sig, { id: "delivered-1", event: "delivered", recipient: "ada@example.org", message: { headers } })).toEqual({ status: 200, body: { received: 0, applied: 0, replayed: 0 } });
  const forged = await post(sig, { id: "forged-1", event: "failed", severity: "permanent", recipient: "ada@example.org", message: { headers } });
  expect(forged).toEqual({ status: 200, body: { received: 1, applied: 0, replayed: 1 } });
  expect(t.suppression("ada@example.org")).toBeUndefined();
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(0);
  // A fresh signature over the same event is applied: the event id was not spent by the refused post.
  expect((await post(signature(), { id: "forged-1", event: "failed", severity: "permanent", recipient: "ada@example.org", message: { headers } })).body).toEqual({ received: 1, applied: 1, replayed: 0 });
  expect(t.suppression("ada@example.org")?.reason).toBe("hard_bounce");
});
