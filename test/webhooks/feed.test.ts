/**
 * GET /api/v1/events (docs/api-reference.md §13) on a real server: cursors, has_more, type filters and prefixes,
 * the other filters, the channels of T, bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let s: TestServer;
const subscribe = async (channel: string, email: string) => {
  const res = await s.request("POST", "/api/v1/subscribers", { body: { channel, email } });
  expect(res.status).toBe(201);
  return res.body;
};
const feed = (query: string, token?: string) => s.request("GET", `/api/v1/events${query}`, token ? { token } : {});

beforeAll(async () => {
  s = await startTestServer({ startJobs: false });
  createTestChannel(s.deps, "Marketing");
  await subscribe("default", "a@example.com");
  await subscribe("marketing", "b@example.com");
});
afterAll(() => s.stop());

describe("GET /events", () => {
  test("pages to the end with cursors while new events arrive", async () => {
    const seen: number[] = [];
    let cursor = "";
    let extra = 0;
    for (let i = 0; i < 20; i++) {
      const res = await feed(`?limit=1${cursor ? `&after=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((e: any) => e.id));
      expect(typeof res.body.next_cursor).toBe("string");
      cursor = res.body.next_cursor;
      // Two more events arrive while the client pages.
      if (extra < 2) await subscribe("default", `late${extra++}@example.com`);
      if (!res.body.has_more && extra >= 2) break;
    }
    const all = s.sql("SELECT id FROM events ORDER BY id").map((r) => r.id);
    expect(seen).toEqual(all);
    // An empty page hands back the cursor it was given.
    const empty = await feed(`?after=${cursor}`);
    expect(empty.body).toEqual({ data: [], next_cursor: cursor, has_more: false });
  });

  test("rows carry channel, type, times and the webhook data", async () => {
    const res = await feed("?limit=1");
    const [e] = res.body.data;
    expect(e).toMatchObject({ channel: "default", type: "subscriber.created", data: { channel: "default", subscriber: { email: "a@example.com" } } });
    expect(e.created_at).toMatch(/Z$/);
    expect(res.body.has_more).toBe(true);
    expect(res.body.next_cursor).toBe(Buffer.from(String(e.id)).toString("base64url"));
  });

  test("type filters: exact types, prefixes, comma lists and type[]", async () => {
    const types = async (q: string) => (await feed(q)).body.data.map((e: any) => e.type);
    expect(new Set(await types("?type=subscriber.subscribed"))).toEqual(new Set(["subscriber.subscribed"]));
    expect(new Set(await types("?type=subscriber.*"))).toEqual(new Set(["subscriber.created", "subscriber.subscribed"]));
    expect(new Set(await types("?type[]=subscriber.created&type[]=email.*"))).toEqual(new Set(["subscriber.created"]));
    expect(await types("?type=email.*")).toEqual([]);
    const unknown = await feed("?type=subscriber.nope");
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors.type[0]).toContain("subscriber.nope");
    expect((await feed("?type=test.webhook")).status).toBe(422);
  });

  test("filters by email, subscriber_id, since and channel of T", async () => {
    const b = s.sql("SELECT id FROM subscribers WHERE email = 'b@example.com'")[0].id;
    const byEmail = await feed("?email=B@example.com");
    expect(byEmail.body.data.map((e: any) => e.channel)).toEqual(["marketing", "marketing"]);
    expect((await feed(`?subscriber_id=${b}`)).body.data).toHaveLength(2);
    expect((await feed("?since=2999-01-01T00:00:00Z")).body.data).toEqual([]);
    const marketingOnly = createTestToken(s.deps, { preset: "all", channels: ["marketing"] });
    const scoped = await feed("", marketingOnly);
    expect(scoped.body.data.map((e: any) => e.channel)).toEqual(["marketing", "marketing"]);
    expect((await feed("?channel=marketing")).body.data.every((e: any) => e.channel === "marketing")).toBe(true);
  });

  test("bad input: cursor, limit, permission", async () => {
    expect((await feed("?after=not-a-cursor")).status).toBe(422);
    expect((await feed(`?after=${Buffer.from("12x").toString("base64url")}`)).status).toBe(422);
    expect((await feed("?limit=0")).status).toBe(422);
    const clamped = await feed("?limit=900");
    expect(clamped.status).toBe(200);
    expect(clamped.body.warnings[0]).toMatchObject({ code: "value_adjusted", param: "limit" });
    const noPerm = createTestToken(s.deps, { preset: "transactional" });
    const denied = await feed("", noPerm);
    expect(denied.status).toBe(403);
    expect(denied.body.required_permission).toBe("events_read");
  });
});
