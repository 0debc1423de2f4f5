/**
 * The audience rule in SQL (eligibleCondition) and per row (isEligible) agree on every kind of
 * subscriber: active, unsubscribed, inactive, bounced, complained, pending and confirmed double
 * opt-in, suppressed on the channel or globally, redacted, and another channel's.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { subscribers } from "@/db/schema";
import { eligibleCondition, isEligible } from "@/features/subscribers/eligibility";
import { createTestChannel } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ startJobs: false });
});
afterAll(() => server.stop());

test("eligibleCondition selects exactly the subscribers isEligible accepts", async () => {
  const other = createTestChannel(server.deps, "Other");
  const names = ["active", "unsub", "inactive", "bounced", "complained", "pending", "confirmed", "chsupp", "globsupp", "redacted"];
  const rows = names.map((n) => ({ email: `${n}@example.com` }));
  expect((await server.request("POST", "/api/v1/subscribers/bulk", { body: { channel: "default", subscribers: rows } })).status).toBe(200);
  expect((await server.request("POST", "/api/v1/subscribers", { body: { channel: other.slug, email: "active@example.com" } })).status).toBe(201);
  const set = (sql: string) => server.sql(sql);
  set("UPDATE subscribers SET unsubscribed_at = 1, is_active = 0 WHERE email = 'unsub@example.com'");
  set("UPDATE subscribers SET is_active = 0 WHERE email = 'inactive@example.com'");
  set("UPDATE subscribers SET bounced_at = 1 WHERE email = 'bounced@example.com'");
  set("UPDATE subscribers SET complained_at = 1 WHERE email = 'complained@example.com'");
  set("UPDATE subscribers SET confirmation_sent_at = 1 WHERE email IN ('pending@example.com', 'confirmed@example.com')");
  set("UPDATE subscribers SET confirmed_at = 2 WHERE email = 'confirmed@example.com'");
  set("UPDATE subscribers SET redacted_at = 1 WHERE email = 'redacted@example.com'");
  await server.request("POST", "/api/v1/suppressions", { body: { channel: "default", email: "chsupp@example.com" } });
  await server.request("POST", "/api/v1/global_suppressions", { body: { email: "globsupp@example.com" } });

  const defaultId = server.sql("SELECT id FROM channels WHERE slug = 'default'")[0].id;
  const db = server.deps.db;
  const bySql = db.select().from(subscribers).where(eligibleCondition(defaultId)).all().map((s) => s.email).sort();
  const byRow = db.select().from(subscribers).all().filter((s) => s.channel_id === defaultId && s.redacted_at === null && isEligible(db, s)).map((s) => s.email).sort();
  expect(bySql).toEqual(["active@example.com", "confirmed@example.com"]);
  expect(bySql).toEqual(byRow);
});
