import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../harness";
import { createTestChannel, createTestToken } from "../fixtures";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0" } });
  createTestChannel(server.deps, "Marketing");
});
afterAll(() => server.stop());

const sql = (query: string, ...params: unknown[]) => server.sql(query, ...params);
const one = (query: string, ...params: unknown[]) => sql(query, ...params)[0];
const bulk = (body: unknown, o: { token?: string; query?: string; headers?: Record<string, string> } = {}) =>
  server.request("POST", `/api/v1/subscribers/bulk${o.query ?? "?channel=default"}`, { body, token: o.token, headers: o.headers });

describe("happy", () => {
  test("JSON import: valid rows written, bad rows skipped and reported by row number", async () => {
    await server.request("POST", "/api/v1/subscribers", { body: { channel: "default", email: "old@bulk.test", first_name: "Old", tags: ["x"], custom_data: { a: 1 }, source: "form" } });
    const res = await bulk({
      subscribers: [
        { email: "New1@Bulk.test", first_name: "N", tags: ["t1"], custom_data: { plan: "pro" }, is_active: false, subscribed_at: "2025-01-01T00:00:00Z" },
        { email: "bad@" },
        { email: "old@bulk.test", last_name: "L", tags: "t2", custom_data: { b: 2 } },
        "not an object",
        { email: "new2@bulk.test", tags: ["a,b"] },
        { email: "new3@bulk.test" },
      ],
      tags: ["imported"],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      created: 2,
      updated: 1,
      skipped: 3,
      errors: [
        { row: 2, email: "bad@", errors: { email: ["is invalid"] } },
        { row: 4, email: null, errors: { base: ["must be an object"] } },
        { row: 5, email: "new2@bulk.test", errors: { "tags.0": ["can't contain commas"] } },
      ],
    });
    const n1 = one("SELECT * FROM subscribers WHERE email = 'new1@bulk.test'");
    expect(n1).toMatchObject({ source: "import", is_active: 0, first_name: "N", subscribed_at: Date.parse("2025-01-01T00:00:00Z") });
    expect(JSON.parse(n1.tags)).toEqual(["imported", "t1"]);
    expect(sql("SELECT tag FROM subscriber_tags WHERE subscriber_id = ? ORDER BY tag", n1.id).map((r) => r.tag)).toEqual(["imported", "t1"]);
    const old = one("SELECT * FROM subscribers WHERE email = 'old@bulk.test'");
    expect(old).toMatchObject({ first_name: "Old", last_name: "L", source: "form" });
    expect(JSON.parse(old.tags)).toEqual(["imported", "t2", "x"]);
    expect(JSON.parse(old.custom_data)).toEqual({ a: 1, b: 2 });
    expect(one("SELECT count(*) AS n FROM subscribers WHERE email = 'new2@bulk.test'").n).toBe(0);
    // One subscriber.created per new row; the merged row gets subscriber.updated.
    const created = sql("SELECT email FROM events WHERE type = 'subscriber.created' AND email LIKE '%bulk.test' ORDER BY id").map((r) => r.email);
    expect(created).toEqual(["old@bulk.test", "new1@bulk.test", "new3@bulk.test"]);
    expect(one("SELECT count(*) AS n FROM events WHERE type = 'subscriber.updated' AND email = 'old@bulk.test'").n).toBe(1);
    // As on a single create (§11.3 "created active"): new active rows are subscribed, inactive ones are not.
    const subscribed = sql("SELECT email FROM events WHERE type = 'subscriber.subscribed' AND email LIKE '%bulk.test' ORDER BY id").map((r) => r.email);
    expect(subscribed).toEqual(["old@bulk.test", "new3@bulk.test"]);
  });

  test("create_only skips existing addresses", async () => {
    await bulk({ subscribers: [{ email: "co@bulk.test", first_name: "A" }] });
    const res = await bulk({ subscribers: [{ email: "co@bulk.test", first_name: "B" }, { email: "co2@bulk.test" }], mode: "create_only" });
    expect(res.body).toEqual({ created: 1, updated: 0, skipped: 1, errors: [{ row: 1, email: "co@bulk.test", errors: { email: ["has already been taken"] } }] });
    expect(one("SELECT first_name FROM subscribers WHERE email = 'co@bulk.test'").first_name).toBe("A");
  });

  test("CSV import: header row, ;-separated tags, other columns → custom_data, file line numbers", async () => {
    const csv = ["Email,first_name,tags,plan,city", "csv1@bulk.test,Ann,a;b,gold,", "broken,,,,", '"csv2@bulk.test",,,silver,"Oslo, NO"'].join("\n");
    const res = await bulk(csv, { headers: { "content-type": "text/csv" }, query: "?channel=default&tags[]=csv" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ created: 2, updated: 0, skipped: 1, errors: [{ row: 3, email: "broken", errors: { email: ["is invalid"] } }] });
    const a = one("SELECT * FROM subscribers WHERE email = 'csv1@bulk.test'");
    expect(a.first_name).toBe("Ann");
    expect(JSON.parse(a.tags)).toEqual(["a", "b", "csv"]);
    expect(JSON.parse(a.custom_data)).toEqual({ plan: "gold" });
    expect(JSON.parse(one("SELECT custom_data FROM subscribers WHERE email = 'csv2@bulk.test'").custom_data)).toEqual({ plan: "silver", city: "Oslo, NO" });
  });

  test("list totals include imported rows (trigger-maintained counter)", async () => {
    await bulk({ subscribers: Array.from({ length: 50 }, (_, i) => ({ email: `count${i}@bulk.test` })) });
    const res = await server.request("GET", "/api/v1/subscribers?channel=default&per_page=1");
    expect(res.body.pagination.total).toBe(one("SELECT count(*) AS n FROM subscribers WHERE channel_id = 1").n);
  });
});

describe("errors", () => {
  test("more than 10,000 rows → 422 and nothing written", async () => {
    const before = one("SELECT count(*) AS n FROM subscribers").n;
    const res = await bulk({ subscribers: Array.from({ length: 10_001 }, (_, i) => ({ email: `over${i}@bulk.test` })) });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ subscribers: ["is too long (maximum is 10000 rows per request)"] });
    expect(one("SELECT count(*) AS n FROM subscribers").n).toBe(before);
  });

  test("more than 10,000 CSV rows → 422", async () => {
    const csv = "email\n" + Array.from({ length: 10_001 }, (_, i) => `c${i}@bulk.test`).join("\n");
    const res = await bulk(csv, { headers: { "content-type": "text/csv" } });
    expect(res.status).toBe(422);
  });

  test.each([
    ["missing subscribers", {}, { subscribers: ["can't be blank"] }],
    ["subscribers not an array", { subscribers: { email: "a@b.test" } }, { subscribers: ["must be an array"] }],
    ["bad mode", { subscribers: [], mode: "replace" }, { mode: ["must be upsert or create_only"] }],
    ["bad top-level tag", { subscribers: [], tags: ["x".repeat(65)] }, { "tags.0": ["is too long (maximum is 64 characters)"] }],
  ])("%s → 422", async (_name, body, errors) => {
    const res = await bulk(body);
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual(errors);
  });

  test("CSV without an email column → 422; unterminated quote → 400", async () => {
    const h = { "content-type": "text/csv" };
    expect((await bulk("name\nAda\n", { headers: h })).body.errors).toEqual({ email: ["column is missing from the CSV header"] });
    const bad = await bulk('email\n"open@bulk.test\n', { headers: h });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("Invalid CSV body");
  });

  test("text/csv elsewhere is still 415; exactly one channel is required", async () => {
    const res = await server.request("POST", "/api/v1/subscribers?channel=default", { body: "email\na@b.test", headers: { "content-type": "text/csv" } });
    expect(res.status).toBe(415);
    const none = await server.request("POST", "/api/v1/subscribers/bulk", { body: { subscribers: [] } });
    expect(none.status).toBe(422);
    expect(none.body.errors).toEqual({ channel: ["must identify exactly one channel"] });
  });
});

describe("permissions", () => {
  test("needs subscribers_write; a channel token cannot import into another channel", async () => {
    const reader = createTestToken(server.deps, { preset: "read_only", channels: ["default"] });
    expect((await bulk({ subscribers: [] }, { token: reader })).status).toBe(403);
    const marketing = createTestToken(server.deps, { permissions: ["subscribers_write"], channels: ["marketing"] });
    const outside = await bulk({ subscribers: [{ email: "x@bulk.test" }] }, { token: marketing });
    expect(outside.status).toBe(403);
    const own = await bulk({ subscribers: [{ email: "mkt@bulk.test" }] }, { token: marketing, query: "" });
    expect(own.body.created).toBe(1);
    expect(one("SELECT channel_id FROM subscribers WHERE email = 'mkt@bulk.test'").channel_id).toBe(2);
  });
});
