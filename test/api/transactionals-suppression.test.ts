/**
 * §4 suppression check of POST /transactionals over real HTTP and SQLite: which list answers, that a
 * refused send writes nothing, and that the check belongs to the send's own transaction (group commit).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { channels, messages, subscribers, suppressions } from "@/db/schema";
import { peekQuota } from "@/features/channels/quota";
import { sendTransactional, type TransactionalValues } from "@/features/transactionals/service";
import { createTestChannel } from "../fixtures";
import { fakeClock, startTestServer, type TestServer } from "../harness";

let server: TestServer;
const clock = fakeClock();

beforeAll(async () => {
  server = await startTestServer({ clock, startJobs: false });
  createTestChannel(server.deps, "Sales", { sender_email: "sales@example.com" });
});
afterAll(() => server.stop());

// The admin token reaches both channels: each send names its channel.
const send = (body: Record<string, unknown>) => server.request("POST", "/api/v1/transactionals", { token: server.adminToken, body: { channel: "default", ...body } });
const channel = (slug: string) => server.deps.db.select().from(channels).where(eq(channels.slug, slug)).get()!;
const suppress = (channelId: number | null, email: string, reason: "manual" | "hard_bounce" | "complaint") =>
  server.deps.db.insert(suppressions).values({ channel_id: channelId, email, reason, created_at: clock.now() }).run();
const rowsTo = (email: string) => server.deps.db.select().from(messages).where(eq(messages.recipient_email, email)).all();

test("the channel's own list answers before the global list; another channel's list does not apply", async () => {
  const def = channel("default");
  suppress(def.id, "both@example.com", "hard_bounce");
  suppress(null, "both@example.com", "complaint");
  suppress(null, "global@example.com", "manual");
  suppress(channel("sales").id, "sales-only@example.com", "complaint");

  const both = await send({ to: "Both@Example.com", subject: "s", body: "b" });
  expect([both.status, both.body]).toEqual([422, { error: "To is suppressed (hard_bounce)", errors: { to: ["is suppressed (hard_bounce)"] } }]);
  const fromSales = await send({ channel: "sales", to: "both@example.com", subject: "s", body: "b" });
  expect([fromSales.status, fromSales.body.error]).toEqual([422, "To is suppressed (complaint)"]);
  const global = await send({ to: " global@example.com ", subject: "s", body: "b" });
  expect([global.status, global.body.error]).toEqual([422, "To is suppressed (manual)"]);
  const elsewhere = await send({ to: "sales-only@example.com", subject: "s", body: "b" });
  expect(elsewhere.status).toBe(201);
});

test("a refused send writes nothing: no message, no quota, no subscriber from its profile", async () => {
  const def = channel("default");
  suppress(def.id, "refused@example.com", "manual");
  const used = peekQuota(server.deps.db, def, clock.now()).used;
  const res = await send({ to: "refused@example.com", subject: "s", body: "b", subscriber: { first_name: "Ref" } });
  expect(res.status).toBe(422);
  expect(rowsTo("refused@example.com")).toEqual([]);
  expect(peekQuota(server.deps.db, def, clock.now()).used).toBe(used);
  expect(server.deps.db.select().from(subscribers).where(eq(subscribers.email, "refused@example.com")).all()).toEqual([]);
  // The refusal rolled back alone: a send in the same group commits.
  const [refused, accepted] = await Promise.all([send({ to: "refused@example.com", subject: "s", body: "b" }), send({ to: "fine@example.com", subject: "s", body: "b" })]);
  expect([refused.status, accepted.status]).toEqual([422, 201]);
  expect(rowsTo("fine@example.com")).toHaveLength(1);
});

test("a suppression committed before the send's group commits refuses it (checked in the send's transaction)", async () => {
  const def = channel("default");
  const values = { to: { email: "late@example.com", name: null }, subject: "s", body: "b" } as TransactionalValues;
  const sending = sendTransactional(server.deps, def, values, null, [], null);
  // The send waits for its group; the suppression lands first, as a concurrent POST /suppressions would.
  suppress(def.id, "late@example.com", "complaint");
  await expect(sending).rejects.toMatchObject({ code: "unprocessable", details: { errors: { to: ["is suppressed (complaint)"] } } });
  expect(rowsTo("late@example.com")).toEqual([]);
});
