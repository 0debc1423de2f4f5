/** The /hooks/providers endpoint's edges on a real server: body limit, per-IP limit, and the retention of seen event ids. */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { fakeClock, startTestServer, type TestServer } from "../harness";

let server: TestServer;
let clock: ReturnType<typeof fakeClock>;
let hook: string;
const KEY = "mailgun-signing-key";
beforeEach(async () => {
  clock = fakeClock();
  server = await startTestServer({ clock, startJobs: false });
  const res = await server.request("POST", "/api/v1/email_servers", { body: { channel: "default", email_server: { label: "Mailgun", vendor: "mailgun", smtp_address: "smtp.mailgun.org", webhook_signing_key: KEY } } });
  hook = `${server.url}${new URL(res.body.provider_webhook_urls.mailgun).pathname}`;
});
afterEach(() => server.stop());

const post = (body: string, headers: Record<string, string> = {}) => fetch(hook, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

/** A signed Mailgun failure for a message nobody sent (accepted, recorded as seen, nothing applied). */
function failure(id: string) {
  const timestamp = String(Math.floor(clock.now() / 1000));
  const token = `tok-${id}`;
  const signature = createHmac("sha256", KEY).update(timestamp + token).digest("hex");
  return JSON.stringify({ signature: { timestamp, token, signature }, "event-data": { id, event: "failed", severity: "permanent", recipient: "a@example.com", message: { headers: { "message-id": "x@example.com" } } } });
}
/** Seen event ids (each post's Mailgun token is kept beside them, as `nonce:<token>`, and pruned alike). */
const seen = () => server.sql("SELECT event_id FROM provider_hook_events WHERE event_id NOT LIKE 'nonce:%' ORDER BY event_id").map((r) => r.event_id);
const nonces = () => server.sql("SELECT count(*) AS n FROM provider_hook_events WHERE event_id LIKE 'nonce:%'")[0].n;

test("a body over 2 MiB → 413", async () => {
  const res = await post(`{"pad":"${"x".repeat(2 * 1024 * 1024)}"}`);
  expect(res.status).toBe(413);
  expect(await res.json()).toMatchObject({ error: "Payload Too Large" });
});

test("600 posts a minute per IP, then 429 with Retry-After until the minute has passed", async () => {
  const statuses = await Promise.all(Array.from({ length: 601 }, () => post("{}").then((r) => r.status)));
  expect(statuses.filter((s) => s === 401)).toHaveLength(600);
  expect(statuses.filter((s) => s === 429)).toHaveLength(1);
  const limited = await post("{}");
  expect(limited.status).toBe(429);
  expect(await limited.json()).toEqual({ error: "Too many requests" });
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  clock.advance(60_000);
  expect((await post("{}")).status).toBe(401);
});

test("seen event ids are pruned by the retention job after 14 days, not before", async () => {
  expect((await post(failure("old"))).status).toBe(200);
  clock.advance(10 * 86_400_000);
  expect((await post(failure("newer"))).status).toBe(200);
  const job = server.running.jobs.get("provider_hooks.retention")!;
  await job.tick(clock.now());
  expect(seen()).toEqual(["newer", "old"]);
  expect(nonces()).toBe(2);
  clock.advance(4 * 86_400_000 + 1);
  await job.tick(clock.now());
  expect(seen()).toEqual(["newer"]);
  expect(nonces()).toBe(1);
});
