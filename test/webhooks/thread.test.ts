/**
 * Webhooks off the API's thread: with the delivery thread, as in production, the dispatcher and the
 * delivery job run there with their own connection, so a burst of webhooks never waits for (nor
 * holds up) the thread that serves the API. Shown by blocking this thread — which is the server's
 * API thread — while the events of a real API call are dispatched, signed and delivered to a
 * receiver in another process, which verifies each signature.
 */
import { afterEach, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../harness";

const EVENTS = 20;

/** A receiver process: PUT /secret sets the secret, POST checks the signature (400 when wrong), GET /count. */
const RECEIVER = `
const { createHmac } = require("node:crypto");
let secret = "", count = 0;
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) {
  const raw = await req.text();
  if (req.method === "PUT") return (secret = raw), new Response("ok");
  if (req.method === "GET") return new Response(String(count));
  const ts = req.headers.get("broadcast-webhook-timestamp");
  const expected = "v1," + createHmac("sha256", secret).update(ts + "." + raw).digest("base64");
  if (req.headers.get("broadcast-webhook-signature") !== expected) return new Response("bad signature", { status: 400 });
  count++;
  return new Response("ok");
} });
console.log(server.port);
`;

let s: TestServer | undefined;
let receiver: ReturnType<typeof Bun.spawn> | undefined;
afterEach(async () => {
  receiver?.kill();
  await s?.stop();
});

async function startReceiver(): Promise<string> {
  receiver = Bun.spawn([process.execPath, "-e", RECEIVER], { stdout: "pipe" });
  const reader = (receiver.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return `http://127.0.0.1:${Number(new TextDecoder().decode(value).trim())}`;
}

const succeeded = () => (s!.sql("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'succeeded'")[0] as { n: number }).n;

test("events are dispatched and delivered while the API's thread is blocked", async () => {
  const receiverUrl = await startReceiver();
  s = await startTestServer({ deliveryThread: true, env: { MAILROOM_ALLOW_HTTP_WEBHOOKS: "1" } });
  const created = await s.request("POST", "/api/v1/webhook_endpoints", { body: { channel: "default", webhook_endpoint: { url: `${receiverUrl}/hook`, event_types: ["subscriber.created"] } } });
  expect(created.status).toBe(201);
  await fetch(`${receiverUrl}/secret`, { method: "PUT", body: created.body.secret });
  for (let i = 0; i < EVENTS; i++) expect((await s.request("POST", "/api/v1/subscribers", { body: { channel: "default", email: `t${i}@example.com` } })).status).toBe(201);

  // From here on this thread never yields to its event loop: only another thread can deliver.
  const deadline = performance.now() + 15_000;
  while (succeeded() < EVENTS && performance.now() < deadline) Bun.sleepSync(20);
  expect(succeeded()).toBe(EVENTS);

  expect(await (await fetch(`${receiverUrl}/count`)).text()).toBe(String(EVENTS));
  // Nothing of webhooks is left on the API's runner; their ticks still reach its metrics.
  expect(s.running.jobs.get("webhooks.delivery")).toBeUndefined();
  const metrics = await s.request("GET", "/metrics");
  expect(metrics.text).toMatch(/mailroom_job_tick_duration_seconds_count\{job="webhooks\.delivery"\} [1-9]/);
}, 30_000);
