/**
 * §6 enrollment without add_subscriber: `init_tag` (a tag added by PATCH, add_tag, upsert, import or
 * double opt-in confirmation), pause/resume on deactivate/activate, and opt-in forms' `sequence_ids`
 * (on submit; with double opt-in on confirmation, the link taken from the mail a real sink received).
 */
import { expect, test } from "bun:test";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { SmtpSink } from "../smtp-sink";

let t: OutboxTest;
let sink: SmtpSink;
eachWithSink(() => startOutboxTest(), (test, s) => ((t = test), (sink = s)));

const api = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
const sequence = async (fields: Record<string, unknown>) => (await api("POST", "/sequences", { channel: "default", label: "Auto", active: true, ...fields })).body;
const enrollments = (email: string) =>
  t.server.sql("SELECT e.sequence_id, e.status, e.next_trigger_at FROM subscriber_sequences e JOIN subscribers s ON s.id = e.subscriber_id WHERE s.email = ? ORDER BY e.id", email);
const events = (type: string) => t.server.sql("SELECT count(*) AS n FROM events WHERE type = ?", type)[0].n;

test("init_tag: a tag added anywhere enrolls eligible subscribers in active sequences with that tag, once", async () => {
  const trial = await sequence({ init_tag: "trial" });
  await sequence({ init_tag: "trial", active: false });
  await api("POST", "/subscribers", { channel: "default", email: "ada@example.com" });
  expect(enrollments("ada@example.com")).toEqual([]);
  expect((await api("PATCH", "/subscribers", { channel: "default", email: "ada@example.com", subscriber: { tags: ["trial", "x"] } })).status).toBe(200);
  expect(enrollments("ada@example.com")).toEqual([{ sequence_id: trial.id, status: "active", next_trigger_at: t.clock.now() }]);
  // Tagging again (upsert merge, add_tag) does not enroll twice.
  await api("POST", "/subscribers", { channel: "default", email: "ada@example.com", tags: ["trial"] });
  await api("POST", "/subscribers/add_tag", { channel: "default", email: "ada@example.com", tags: ["trial"] });
  expect(enrollments("ada@example.com")).toHaveLength(1);
  // Created with the tag, added by add_tag, or imported with it.
  await api("POST", "/subscribers", { channel: "default", email: "bo@example.com", tags: "trial" });
  await api("POST", "/subscribers", { channel: "default", email: "cy@example.com" });
  await api("POST", "/subscribers/add_tag", { channel: "default", email: "cy@example.com", tags: ["trial"] });
  await api("POST", "/subscribers/bulk", { channel: "default", subscribers: [{ email: "di@example.com", tags: ["trial"] }] });
  for (const email of ["bo@example.com", "cy@example.com", "di@example.com"]) expect(enrollments(email).map((e) => e.sequence_id)).toEqual([trial.id]);
  // Not eligible: an unsubscribed subscriber tagged later is not enrolled.
  await api("POST", "/subscribers", { channel: "default", email: "gone@example.com" });
  await api("POST", "/subscribers/unsubscribe", { channel: "default", email: "gone@example.com" });
  await api("POST", "/subscribers/add_tag", { channel: "default", email: "gone@example.com", tags: ["trial"] });
  expect(enrollments("gone@example.com")).toEqual([]);
  expect(events("sequence.subscriber_added")).toBe(4);
});

test("deactivating pauses active enrollments (due time kept); activating resumes them, due no earlier than now", async () => {
  const s = await sequence({});
  await api("POST", `/sequences/${s.id}/add_subscriber`, { email: "pat@example.com" });
  const due = t.clock.now();
  await api("POST", "/subscribers/deactivate", { channel: "default", email: "pat@example.com" });
  expect(enrollments("pat@example.com")).toEqual([{ sequence_id: s.id, status: "paused", next_trigger_at: due }]);
  expect(events("sequence.subscriber_paused")).toBe(1);
  t.clock.advance(3_600_000);
  await api("POST", "/subscribers/activate", { channel: "default", email: "pat@example.com" });
  expect(enrollments("pat@example.com")).toEqual([{ sequence_id: s.id, status: "active", next_trigger_at: t.clock.now() }]);
  expect(events("sequence.subscriber_resumed")).toBe(1);
});

test("forms: sequence_ids must be the channel's; a submission enrolls; with double opt-in only once confirmed", async () => {
  const welcome = await sequence({ label: "Welcome series" });
  const bad = await api("POST", "/opt_in_forms", { channel: "default", label: "F", automation_settings: { sequence_ids: [welcome.id + 1000] } });
  expect(bad.body.errors).toEqual({ "automation_settings.sequence_ids.0": ["does not exist in this channel"] });
  const plain = await api("POST", "/opt_in_forms", { channel: "default", label: "Plain", automation_settings: { sequence_ids: [welcome.id] } });
  expect(plain.body.automation_settings.sequence_ids).toEqual([welcome.id]);
  const post = (identifier: string, email: string) =>
    fetch(`${t.server.url}/f/${identifier}`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify({ email }) });
  expect((await post(plain.body.identifier, "form@example.com")).status).toBe(200);
  expect(enrollments("form@example.com").map((e) => e.sequence_id)).toEqual([welcome.id]);

  const doi = await api("POST", "/opt_in_forms", { channel: "default", label: "DOI", automation_settings: { double_opt_in: true, sequence_ids: [welcome.id] } });
  await post(doi.body.identifier, "later@example.com");
  expect(enrollments("later@example.com")).toEqual([]);
  while (await t.tick());
  const [mail] = await sink.waitFor(1);
  const link = /href="([^"]+\/c\/[^"]+)"/.exec(mail!.parsed.html as string)![1]!.replace(/^https?:\/\/[^/]+/, t.server.url);
  expect((await fetch(link, { method: "POST" })).status).toBe(200);
  expect(enrollments("later@example.com")).toEqual([{ sequence_id: welcome.id, status: "active", next_trigger_at: t.clock.now() }]);
});

test("double opt-in confirmation enrolls by init_tag the tags given while pending", async () => {
  const s = await sequence({ init_tag: "news" });
  await api("POST", "/subscribers", { channel: "default", email: "wait@example.com", tags: ["news"], double_opt_in: true });
  expect(enrollments("wait@example.com")).toEqual([]);
  while (await t.tick());
  const [mail] = await sink.waitFor(1);
  const link = /href="([^"]+\/c\/[^"]+)"/.exec(mail!.parsed.html as string)![1]!.replace(/^https?:\/\/[^/]+/, t.server.url);
  await fetch(link, { method: "POST" });
  expect(enrollments("wait@example.com").map((e) => e.sequence_id)).toEqual([s.id]);
});

test("redacting a subscriber ends their open enrollments in every sequence as removed, at once", async () => {
  const first = await sequence({ init_tag: "trial" });
  const second = await sequence({ label: "Other" });
  await api("POST", "/subscribers", { channel: "default", email: "eve@example.com", tags: ["trial"] });
  expect((await api("POST", `/sequences/${second.id}/add_subscriber`, { email: "eve@example.com" })).status).toBe(201);
  await api("POST", "/subscribers/deactivate", { channel: "default", email: "eve@example.com" });
  const id = t.server.sql("SELECT id FROM subscribers WHERE email = 'eve@example.com'")[0].id;
  expect(t.server.sql("SELECT status FROM subscriber_sequences WHERE subscriber_id = ? ORDER BY id", id).map((e) => e.status)).toEqual(["paused", "paused"]);
  expect((await api("POST", "/subscribers/redact", { channel: "default", email: "eve@example.com" })).status).toBe(200);
  const rows = t.server.sql("SELECT sequence_id, status, next_trigger_at FROM subscriber_sequences WHERE subscriber_id = ? ORDER BY id", id);
  expect(rows).toEqual([
    { sequence_id: first.id, status: "removed", next_trigger_at: null },
    { sequence_id: second.id, status: "removed", next_trigger_at: null },
  ]);
  const removed = t.server.sql("SELECT data FROM events WHERE type = 'sequence.subscriber_removed' ORDER BY id").map((e) => JSON.parse(e.data));
  expect(removed.map((d) => [d.sequence.id, d.subscriber.email, d.enrollment.status])).toEqual([
    [first.id, `redacted-${id}@redacted.invalid`, "removed"],
    [second.id, `redacted-${id}@redacted.invalid`, "removed"],
  ]);
});

test("bulk import: each subscriber's sequence.subscriber_added follows its subscriber.created in the feed", async () => {
  await sequence({ init_tag: "trial" });
  const rows = Array.from({ length: 30 }, (_, i) => ({ email: `imp${i}@example.com`, tags: ["trial"] }));
  expect((await api("POST", "/subscribers/bulk", { channel: "default", subscribers: rows })).status).toBeLessThan(300);
  const feed = t.server.sql("SELECT id, type, subscriber_id FROM events WHERE type IN ('subscriber.created', 'sequence.subscriber_added') ORDER BY id");
  const created = new Map(feed.filter((e) => e.type === "subscriber.created").map((e) => [e.subscriber_id, e.id]));
  const added = feed.filter((e) => e.type === "sequence.subscriber_added");
  expect(added).toHaveLength(30);
  for (const e of added) expect(e.id).toBeGreaterThan(created.get(e.subscriber_id)!);
});
