/**
 * The typed event catalogue (docs/api-reference.md §11.3): every event the running features append carries
 * exactly the data its type's schema defines, checked on the rows a real server stored.
 */
import { afterEach, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { EVENT_SCHEMAS, EVENT_TYPES } from "@/features/events/schemas";
import { startOutboxTest, type OutboxTest } from "../outbox/helpers";

let t: OutboxTest;
afterEach(() => t?.stop());

test("the catalogue is §11.3 plus broadcast.batch_completed", () => {
  expect(EVENT_TYPES).toHaveLength(35);
  expect(EVENT_TYPES).toContain("email.soft_bounced");
  expect(EVENT_TYPES).toContain("email.send_delayed");
  expect(EVENT_TYPES).toContain("broadcast.batch_completed");
});

test("stored events of sends, subscribers and complaints match their schemas", async () => {
  t = await startOutboxTest();
  const sink = await t.sink();
  await t.addServer(sink.port);
  const created = await t.server.request("POST", "/api/v1/subscribers", { body: { channel: "default", email: "ada@example.com" } });
  expect(created.status).toBe(201);
  const sent = await t.send({ to: "ada@example.com" });
  await t.tick();
  expect(t.eventTypes(sent.id)).toEqual(["email.sent", "email.delivered"]);
  const unsubscribed = await t.server.request("POST", "/api/v1/subscribers/unsubscribe", { body: { channel: "default", email: "ada@example.com" } });
  expect(unsubscribed.status).toBe(200);
  const complaint = await t.server.request("POST", "/api/v1/suppressions", { body: { channel: "default", email: "ada@example.com", reason: "complaint" } });
  expect(complaint.status).toBe(201);

  const rows = t.server.sql("SELECT type, data, subscriber_id, email, transactional_id FROM events ORDER BY id");
  expect(rows.map((r) => r.type)).toEqual([
    "subscriber.created",
    "subscriber.subscribed",
    "email.sent",
    "email.delivered",
    "subscriber.unsubscribed",
    "email.complained",
    "subscriber.complained",
  ]);
  for (const row of rows) {
    const data = JSON.parse(row.data);
    const schema = EVENT_SCHEMAS[row.type as keyof typeof EVENT_SCHEMAS];
    expect({ type: row.type, errors: [...Value.Errors(schema, data)].map((e) => `${e.path} ${e.message}`) }).toEqual({ type: row.type, errors: [] });
    expect(data.channel).toBe("default");
    expect(row.email).toBe("ada@example.com");
    expect(row.subscriber_id).toBe(created.body.id);
  }
  const delivered = JSON.parse(rows[3].data);
  expect(delivered).toMatchObject({ transactional_id: sent.id, sequence_id: null, subscriber_id: created.body.id, recipient_email: "ada@example.com", subject: "Receipt" });
  expect(rows[3].transactional_id).toBe(sent.id);
});
