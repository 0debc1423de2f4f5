/**
 * make_http_request against a real local HTTP receiver (loopback allowed by
 * MAILROOM_ALLOW_HTTP_WEBHOOKS, as for the webhook tests): the Liquid body and headers as sent, three
 * attempts on the stored retry times then sequence.subscriber_error and the subscriber goes on, the
 * tick never waiting for an answer, and the SSRF guard refusing a private address at attempt time.
 */
import { afterEach, expect, test } from "bun:test";
import type { Server } from "bun";
import { IN_FLIGHT_MS, RETRY_AFTER_MS } from "@/features/sequences/http-request";
import { SequenceScheduler } from "@/features/sequences/scheduler";
import { eachWithSink } from "../outbox/helpers";
import { startSchedulerTest, type SchedulerTest } from "./scheduler-helpers";

let t: SchedulerTest;
eachWithSink(
  () => startSchedulerTest({ env: { MAILROOM_ALLOW_HTTP_WEBHOOKS: "1" } }),
  (test) => (t = test),
);

interface Received {
  method: string;
  body: string;
  headers: Headers;
}
let receiver: Server<unknown> | null = null;
afterEach(() => receiver?.stop(true));

/** A receiver answering with `answer()` (awaited: a test can hold it). */
function receive(answer: () => Response | Promise<Response>): Received[] {
  const got: Received[] = [];
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      got.push({ method: req.method, body: await req.text(), headers: req.headers });
      return answer();
    },
  });
  return got;
}
const url = (path = "/hook") => `http://127.0.0.1:${receiver!.port}${path}`;

/** entry → make_http_request → add tag "after". */
async function requestThenTag(fields: Record<string, unknown>) {
  const s = await t.sequence();
  const step = await t.addStep(s.id, { action: "make_http_request", ...fields });
  await t.addStep(s.id, { action: "add_tag_to_subscriber", taggify_list: "after", parent_id: step.id });
  return { s, step };
}
const tagsOf = (email: string) => JSON.parse(t.server.sql("SELECT tags FROM subscribers WHERE email = ?", email)[0].tags);

test("POST with the Liquid-rendered body and the step's headers; a 2xx moves the subscriber on", async () => {
  const got = receive(() => new Response("ok"));
  const { s } = await requestThenTag({ http_url: url(), http_method: "POST", http_headers: { "X-Api-Key": "k1" }, http_body: '{"email":"{{ email }}","name":"{{ first_name }}"}' });
  await t.enroll(s.id, "h@example.com", { first_name: "Hal" });
  await t.run();
  expect(got).toHaveLength(1);
  expect(got[0]!.method).toBe("POST");
  expect(JSON.parse(got[0]!.body)).toEqual({ email: "h@example.com", name: "Hal" });
  expect(got[0]!.headers.get("x-api-key")).toBe("k1");
  expect(got[0]!.headers.get("content-type")).toBe("application/json");
  expect(tagsOf("h@example.com")).toEqual(["after"]);
  expect(t.enrollment(s.id, "h@example.com")).toMatchObject({ status: "completed", request_attempts: 0 });
});

test("failures retry on stored due times; after the third, sequence.subscriber_error and the subscriber goes on", async () => {
  const got = receive(() => new Response("down", { status: 503 }));
  const { s, step } = await requestThenTag({ http_url: url(), http_method: "GET" });
  await t.enroll(s.id, "f@example.com");
  await t.run();
  expect(got).toHaveLength(1);
  expect(t.enrollment(s.id, "f@example.com")).toMatchObject({ current_step_id: step.id, request_attempts: 1, next_trigger_at: t.clock.now() + RETRY_AFTER_MS[0] });
  t.clock.advance(RETRY_AFTER_MS[0] - 1);
  await t.run();
  expect(got).toHaveLength(1);
  t.clock.advance(1);
  await t.run();
  expect(got).toHaveLength(2);
  t.clock.advance(RETRY_AFTER_MS[1]);
  await t.run();
  expect(got).toHaveLength(3);
  expect(got.map((r) => r.method)).toEqual(["GET", "GET", "GET"]);
  expect(tagsOf("f@example.com")).toEqual(["after"]);
  expect(t.enrollment(s.id, "f@example.com").status).toBe("completed");
  const error = t.server.sql("SELECT data FROM events WHERE type = 'sequence.subscriber_error'").map((e) => JSON.parse(e.data).error);
  expect(error).toEqual(["make_http_request: HTTP 503 (after 3 attempts)"]);
});

test("the tick does not wait for the answer: other subscribers go on while a request is held", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const got = receive(async () => {
    await held;
    return new Response("late");
  });
  const { s } = await requestThenTag({ http_url: url(), http_method: "GET" });
  const other = await t.sequence({ label: "Other" });
  await t.addStep(other.id, { action: "add_tag_to_subscriber", taggify_list: "other" });
  await t.enroll(s.id, "slow@example.com");
  await t.enroll(other.id, "fast@example.com");
  t.scheduler.tick(t.clock.now());
  t.scheduler.tick(t.clock.now());
  expect(tagsOf("fast@example.com")).toEqual(["other"]);
  expect(t.enrollment(s.id, "slow@example.com")).toMatchObject({ status: "active", request_attempts: 1, next_trigger_at: t.clock.now() + IN_FLIGHT_MS });
  while (got.length === 0) await new Promise((r) => setImmediate(r));
  release();
  await t.scheduler.settled();
  expect(tagsOf("slow@example.com")).toEqual(["after"]);
});

test("a host that resolves to a private address is refused at attempt time (blocked_address)", async () => {
  // DNS is faked at the edge: the name resolves into 10/8.
  const scheduler = new SequenceScheduler(t.server.deps, { lookup: async () => [{ address: "10.0.0.5", family: 4 }] });
  const { s } = await requestThenTag({ http_url: "https://hooks.example.com/in", http_method: "GET" });
  await t.enroll(s.id, "p@example.com");
  for (const advance of [0, RETRY_AFTER_MS[0], RETRY_AFTER_MS[1]]) {
    t.clock.advance(advance);
    scheduler.tick(t.clock.now());
    await scheduler.settled();
  }
  const error = t.server.sql("SELECT data FROM events WHERE type = 'sequence.subscriber_error'").map((e) => JSON.parse(e.data).error);
  expect(error).toEqual(["make_http_request: blocked_address (after 3 attempts)"]);
  expect(t.enrollment(s.id, "p@example.com").status).toBe("completed");
});
