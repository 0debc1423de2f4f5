/**
 * GET /api/v1/reputation (docs/api-reference.md §14): counts kept by the database as real sends, failures and
 * complaints happen, the rates and the trust score of the formula.
 */
import { afterEach, expect, test } from "bun:test";
import { trustScore } from "@/features/reputation/service";
import { startOutboxTest, type OutboxTest } from "../outbox/helpers";

let t: OutboxTest;
afterEach(() => t?.stop());

test("the trust score follows the formula, rounded half up", () => {
  // The §14 example: 100 − 8 − 10 − 0.5 = 81.5 → 82.
  expect(trustScore({ sent: 12000, bounced: 80, complained: 3, failed: 30 })).toBe(82);
  expect(trustScore({ sent: 100, bounced: 100, complained: 100, failed: 100 })).toBe(0);
  expect(trustScore({ sent: 0, bounced: 0, complained: 0, failed: 0 })).toBe(100);
});

test("sends, a render failure and a complaint are counted per channel and sending domain", async () => {
  t = await startOutboxTest();
  const sink = await t.sink();
  await t.addServer(sink.port);
  await t.server.request("PATCH", "/api/v1/channels/default", { body: { channel: { sender_email: "news@Example.COM" } } });
  for (const to of ["a@example.org", "b@example.org", "c@example.org"]) await t.send({ to });
  await t.send({ to: "d@example.org", body: "{% for i in (1..10000000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}" });
  await t.tick();
  expect((await t.server.request("POST", "/api/v1/suppressions", { body: { channel: "default", email: "a@example.org", reason: "complaint" } })).status).toBe(201);

  const res = await t.server.request("GET", "/api/v1/reputation?days=7");
  expect(res.status).toBe(200);
  expect(res.body.period.days).toBe(7);
  expect(res.body.domains).toEqual([
    {
      domain: "example.com",
      channel: "default",
      sent: 4,
      delivered: 3,
      bounced: 0,
      failed: 1,
      complained: 1,
      opened: 0,
      clicked: 0,
      delivery_rate: 75,
      bounce_rate: 0,
      complaint_rate: 25,
      failed_rate: 25,
      open_rate: 0,
      click_rate: 0,
      trust_score: 20, // 100 − min(60, 400 × 25) − min(20, 2 × 25)
      status: "critical",
      confidence: "low",
    },
  ]);
  expect((await t.server.request("GET", "/api/v1/reputation?domain=other.com")).body.domains).toEqual([]);
  expect((await t.server.request("GET", "/api/v1/reputation?days=91")).status).toBe(422);
  // Outside the window (whole UTC days): nothing.
  t.clock.advance(3 * 86_400_000);
  expect((await t.server.request("GET", "/api/v1/reputation?days=1")).body.domains).toEqual([]);
});
