/**
 * §6 enrollment routes over real HTTP: add_subscriber (201 new, 200 open, 422 ineligible or inactive),
 * remove_subscriber, list_subscribers (pagy), re-adding after removal, events.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fakeClock, startTestServer, type TestServer } from "../harness";

const clock = fakeClock();
let server: TestServer;
let seq: { id: number; entry_point_id: number };
beforeAll(async () => {
  server = await startTestServer({ clock, startJobs: false });
  seq = (await server.request("POST", "/api/v1/sequences", { body: { channel: "default", label: "Members", active: true } })).body;
});
afterAll(() => server.stop());

const add = (body: unknown, id = seq.id) => server.request("POST", `/api/v1/sequences/${id}/add_subscriber.json`, { body });
const remove = (email: string) => server.request("DELETE", `/api/v1/sequences/${seq.id}/remove_subscriber.json`, { body: { email } });

describe("enrollment routes", () => {
  test("an unknown email is created (source sequence) and enrolled at the root, due now: 201; again: 200", async () => {
    const res = await add({ subscriber: { email: "Ada@Example.com", first_name: "Ada", tags: ["vip"], custom_data: { plan: "pro" } } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      sequence_id: seq.id,
      status: "active",
      current_step_id: seq.entry_point_id,
      next_trigger_at: new Date(clock.now()).toISOString(),
      started_at: new Date(clock.now()).toISOString(),
      completed_at: null,
      subscriber: { email: "ada@example.com" },
    });
    const sub = server.sql("SELECT source, first_name, tags, custom_data FROM subscribers WHERE email = 'ada@example.com'")[0];
    expect(sub).toEqual({ source: "sequence", first_name: "Ada", tags: '["vip"]', custom_data: '{"plan":"pro"}' });
    const again = await add({ email: "ada@example.com" });
    expect([again.status, again.body.id]).toEqual([200, res.body.id]);
    expect(server.sql("SELECT count(*) AS n FROM events WHERE type = 'sequence.subscriber_added' AND subscriber_id = ?", res.body.subscriber.id)[0].n).toBe(1);
    expect((await server.request("GET", `/api/v1/sequences/${seq.id}`)).body.subscribers_count).toBe(1);
  });

  test("422 for ineligible subscribers and inactive sequences; nothing stored", async () => {
    await server.request("POST", "/api/v1/subscribers", { body: { channel: "default", email: "gone@example.com" } });
    await server.request("POST", "/api/v1/subscribers/unsubscribe", { body: { channel: "default", email: "gone@example.com" } });
    const gone = await add({ email: "gone@example.com" });
    expect([gone.status, gone.body.error]).toEqual([422, "Subscriber is unsubscribed and can't be added to a sequence"]);
    await server.request("POST", "/api/v1/suppressions", { body: { channel: "default", email: "blocked@example.com" } });
    const blocked = await add({ email: "blocked@example.com" });
    expect([blocked.status, blocked.body.error]).toEqual([422, "Subscriber is suppressed and can't be added to a sequence"]);
    // The subscriber the failed request would have created was rolled back with it.
    expect(server.sql("SELECT count(*) AS n FROM subscribers WHERE email = 'blocked@example.com'")[0].n).toBe(0);
    const idle = (await server.request("POST", "/api/v1/sequences", { body: { channel: "default", label: "Idle" } })).body;
    const inactive = await add({ email: "new@example.com" }, idle.id);
    expect([inactive.status, inactive.body.error]).toEqual([422, "Sequence is not active"]);
    expect((await add({})).body.errors).toEqual({ email: ["can't be blank"] });
  });

  test("remove ends the enrollment as removed (event); re-adding starts a new one (201)", async () => {
    const first = await add({ email: "bob@example.com" });
    const res = await remove("bob@example.com");
    expect(res.body).toEqual({ message: "Subscriber removed from sequence" });
    expect(server.sql("SELECT status, next_trigger_at FROM subscriber_sequences WHERE id = ?", first.body.id)[0]).toEqual({ status: "removed", next_trigger_at: null });
    expect(server.sql("SELECT count(*) AS n FROM events WHERE type = 'sequence.subscriber_removed' AND subscriber_id = ?", first.body.subscriber.id)[0].n).toBe(1);
    expect(await remove("bob@example.com")).toMatchObject({ status: 404, body: { error: "Subscriber not enrolled in sequence" } });
    expect((await remove("nobody@example.com")).status).toBe(404);
    const again = await add({ email: "bob@example.com" });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.body.id);
  });

  test("list_subscribers: pagy envelope, count of every enrollment", async () => {
    for (let i = 0; i < 4; i++) await add({ email: `page${i}@example.com` });
    const total = server.sql("SELECT count(*) AS n FROM subscriber_sequences WHERE sequence_id = ?", seq.id)[0].n;
    const res = await server.request("GET", `/api/v1/sequences/${seq.id}/list_subscribers.json?page=2&per_page=3`);
    expect(res.status).toBe(200);
    expect(res.body.pagination).toEqual({ prev: 1, next: total > 6 ? 3 : null, count: total, pages: Math.ceil(total / 3), page: 2 });
    expect(res.body.subscriber_sequences).toHaveLength(3);
    expect(res.body.subscriber_sequences[0]).toMatchObject({ sequence_id: seq.id, subscriber: { id: expect.any(Number), email: expect.any(String) } });
    const first = await server.request("GET", `/api/v1/sequences/${seq.id}/list_subscribers`);
    expect(first.body.pagination).toMatchObject({ prev: null, page: 1, count: total });
  });
});
