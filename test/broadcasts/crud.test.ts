/**
 * Broadcast CRUD, field reading and the state errors of §5, over real HTTP; scheduling stepped
 * with the fake clock and the broadcasts job (restart-safe: the due time is stored).
 */
import { expect, test } from "bun:test";
import type { SmtpSink } from "../smtp-sink";
import { eachWithSink } from "../outbox/helpers";
import { startBroadcastTest, type BroadcastTest } from "./helpers";

let t: BroadcastTest;
let sink: SmtpSink;
eachWithSink(startBroadcastTest, (test, s) => ((t = test), (sink = s)));

const req = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
const HOUR = 3_600_000;

test("create, show, list, update and delete; html_body as a string becomes the body", async () => {
  const res = await req("POST", "/broadcasts", { channel: "default", broadcast: { subject: "March", html_body: "<h1>Hi</h1>", taggify_list: "b,a", track_opens: "true" } });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ channel: "default", name: "March", subject: "March", body: "<h1>Hi</h1>", html_body: true, status: "draft", tags: ["a", "b"], track_opens: true, track_clicks: false, include_unsubscribe_link: true, segment_ids: [], total_recipients: 0 });
  const id = res.body.id;
  expect((await req("GET", `/broadcasts/${id}`)).body.id).toBe(id);
  const list = await req("GET", "/broadcasts?status=draft");
  expect(list.body).toMatchObject({ total: 1, data: [{ id, name: "March", status: "draft", total_recipients: 0, sent_at: null }] });
  const patched = await req("PATCH", `/broadcasts/${id}`, { name: "Renamed", html_body: false });
  expect(patched.body).toMatchObject({ name: "Renamed", html_body: false, body: "<h1>Hi</h1>" });
  expect((await req("DELETE", `/broadcasts/${id}`)).body).toEqual({ message: "Broadcast deleted successfully" });
  expect((await req("GET", `/broadcasts/${id}`)).body).toEqual({ error: "Broadcast not found" });
});

test("bad input: blank fields, a segment both included and excluded, ids of another channel", async () => {
  const blank = await req("POST", "/broadcasts", { channel: "default" });
  expect(blank.status).toBe(422);
  expect(blank.body.errors).toEqual({ subject: ["can't be blank"] });
  // body may come as html_body (a string), so it is checked once the fields are read.
  expect((await req("POST", "/broadcasts", { channel: "default", subject: "s" })).body.errors).toEqual({ body: ["can't be blank"] });
  const seg = await req("POST", "/segments", { channel: "default", name: "All" });
  const both = await req("POST", "/broadcasts", { channel: "default", subject: "s", body: "b", segment_ids: [seg.body.id], excluded_segment_ids: [seg.body.id] });
  expect(both.status).toBe(422);
  expect(both.body.errors.excluded_segment_ids[0]).toContain("segment_ids");
  const malformed = await req("POST", "/broadcasts", { channel: "default", subject: "s", body: "b", email_server_ids: ["x"] });
  expect(malformed.body.errors).toEqual({ "email_server_ids.0": ["must be an id"] });
  const missing = await req("POST", "/broadcasts", { channel: "default", subject: "s", body: "b", segment_ids: [seg.body.id, 999], email_server_ids: [999] });
  expect(missing.body.errors).toEqual({ "segment_ids.1": ["does not exist in this channel"], "email_server_ids.0": ["does not exist in this channel"] });
  const liquid = await req("POST", "/broadcasts", { channel: "default", subject: "{% if %}", body: "b" });
  expect(liquid.body.errors.subject).toBeDefined();
});

test("state errors name the current state", async () => {
  await t.subscribers(0, 3);
  const b = await t.create({});
  expect((await req("POST", `/broadcasts/${b.id}/cancel_schedule`)).body.error).toBe("Broadcast can only be unscheduled from future_scheduled (current: draft)");
  expect((await req("POST", `/broadcasts/${b.id}/pause`)).body.error).toBe("Broadcast can only be paused from queueing or sending (current: draft)");
  await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  const del = await req("DELETE", `/broadcasts/${b.id}`);
  expect(del.status).toBe(422);
  expect(del.body.error).toBe("Broadcast can only be deleted from draft, future_scheduled or failed (current: queueing)");
  expect((await req("PATCH", `/broadcasts/${b.id}`, { name: "x" })).body.error).toBe("Broadcast can only be updated from draft or future_scheduled (current: queueing)");
});

test("scheduling: past and > 366 days are 422; an offset-less time is read in the zone; the job starts it when due", async () => {
  await t.subscribers(0, 5);
  const b = await t.create({});
  const past = await req("POST", `/broadcasts/${b.id}/schedule_broadcast`, { scheduled_send_at: new Date(t.clock.now() - 1000).toISOString() });
  expect(past.body.errors).toEqual({ scheduled_send_at: ["must be in the future"] });
  const far = await req("POST", `/broadcasts/${b.id}/schedule_broadcast`, { scheduled_send_at: new Date(t.clock.now() + 367 * 24 * HOUR).toISOString() });
  expect(far.body.errors).toEqual({ scheduled_send_at: ["must be at most 366 days ahead"] });
  // The fake clock is 2026-01-15T10:30Z; 12:00 in New York (UTC−5 in January) is 17:00Z.
  const ok = await req("POST", `/broadcasts/${b.id}/schedule_broadcast`, { scheduled_send_at: "2026-01-15T12:00:00", scheduled_timezone: "America/New_York" });
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ status: "future_scheduled", scheduled_send_at: "2026-01-15T17:00:00.000Z", scheduled_timezone: "America/New_York" });
  expect(ok.headers.get("x-quota-used")).toBe("0");

  await t.tickBroadcasts();
  expect((await t.get(b.id)).status).toBe("future_scheduled");
  t.clock.set(Date.parse("2026-01-15T17:00:00Z"));
  await t.drain();
  await sink.waitFor(5);
  expect((await t.get(b.id)).status).toBe("sent");
  const types = t.server.sql("SELECT type FROM events WHERE broadcast_id = ? AND type LIKE 'broadcast.%' AND type <> 'broadcast.batch_completed' ORDER BY id", b.id).map((e) => e.type);
  expect(types).toEqual(["broadcast.scheduled", "broadcast.queueing", "broadcast.sending", "broadcast.sent"]);
});

test("a created future_scheduled broadcast can be cancelled; a due one that does not fit the quota fails with quota_exhausted", async () => {
  await t.subscribers(0, 5);
  const at = new Date(t.clock.now() + HOUR).toISOString();
  const a = await t.create({ scheduled_send_at: at });
  expect(a.status).toBe("future_scheduled");
  expect((await req("POST", `/broadcasts/${a.id}/cancel_schedule`)).body).toMatchObject({ status: "draft", scheduled_send_at: null });
  const b = await t.create({ scheduled_send_at: at });
  await req("PATCH", "/channels/default", { channel: { monthly_send_quota: 3 } });
  t.clock.advance(HOUR);
  await t.tickBroadcasts();
  expect(await t.get(b.id)).toMatchObject({ status: "failed", failure_reason: "quota_exhausted" });
  expect(t.server.sql("SELECT count(*) AS n FROM messages")[0].n).toBe(0);
});

test("a segment used by a draft broadcast cannot be deleted; once the broadcast is gone it can", async () => {
  const seg = await req("POST", "/segments", { channel: "default", name: "Used" });
  const b = await t.create({ excluded_segment_ids: [seg.body.id] });
  const refused = await req("DELETE", `/segments/${seg.body.id}`);
  expect(refused.status).toBe(422);
  expect(refused.body.error).toBe(`Segment is in use by: broadcast ${b.id}`);
  await req("DELETE", `/broadcasts/${b.id}`);
  expect((await req("DELETE", `/segments/${seg.body.id}`)).status).toBe(200);
});
