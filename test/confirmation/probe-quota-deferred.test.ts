/**
 * Probe of quota-deferred system mail (§1.8) as a hostile or impatient user meets it: the same
 * address signing up again and again while its confirmation waits, a pending subscriber who
 * unsubscribes while it waits, the cap raised and lowered repeatedly, the month turning at exactly
 * 00:00 UTC, the channel deleted with mail waiting, two release ticks in a row.
 */
import { expect, test } from "bun:test";
import { QUOTA_RELEASE_JOB } from "@/outbox/quota-release";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { SmtpSink } from "../smtp-sink";

let t: OutboxTest;
let sink: SmtpSink;
eachWithSink(() => startOutboxTest(), (test, s) => ((t = test), (sink = s)));

const api = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
const confirmations = () => t.server.sql("SELECT recipient_email, status FROM messages WHERE kind = 'system' AND source = 'confirmation' ORDER BY id");
const used = () => t.server.sql("SELECT coalesce(sum(used), 0) AS n FROM quota_usage")[0].n as number;
const release = () => t.server.running.jobs.get(QUOTA_RELEASE_JOB)!.tick(t.clock.now());
const cap = async (monthly_send_quota: number | null) => expect((await api("PATCH", "/channels/default", { channel: { monthly_send_quota } })).status).toBe(200);
const signUp = async (email: string) => expect([200, 201]).toContain((await api("POST", "/subscribers", { channel: "default", email, double_opt_in: true })).status);
async function deliverAll() {
  while (await t.tick());
}
async function fillQuota() {
  await cap(1);
  await t.send({ to: "first@example.com" });
  await deliverAll();
  await sink.waitFor(1);
}

test("an address that signs up three times while its confirmation waits gets one confirmation, charged once", async () => {
  await fillQuota();
  for (let i = 0; i < 3; i++) await signUp("eager@example.com");
  await signUp("other@example.com");
  await cap(null);
  await release();
  expect(confirmations()).toEqual([
    { recipient_email: "eager@example.com", status: "queued" },
    { recipient_email: "other@example.com", status: "queued" },
  ]);
  expect(used()).toBe(3);
  await deliverAll();
  expect((await sink.waitFor(3)).map((m) => m.envelope.to[0])).toEqual(["first@example.com", "eager@example.com", "other@example.com"]);
});

test("a pending subscriber who unsubscribes while the confirmation waits is not sent it; one unsubscribed before signing up again is", async () => {
  await fillQuota();
  await signUp("changed-mind@example.com");
  expect((await api("POST", "/subscribers/unsubscribe", { channel: "default", email: "changed-mind@example.com" })).status).toBe(200);
  expect((await api("POST", "/subscribers", { channel: "default", email: "back@example.com" })).status).toBe(201);
  expect((await api("POST", "/subscribers/unsubscribe", { channel: "default", email: "back@example.com" })).status).toBe(200);
  t.clock.advance(1000);
  await signUp("back@example.com");
  await cap(null);
  await release();
  expect(confirmations()).toEqual([{ recipient_email: "back@example.com", status: "queued" }]);
  expect(used()).toBe(2);
});

test("the cap lowered and raised repeatedly releases exactly the room each time; at 00:00:00.000 UTC of a new month the rest goes", async () => {
  await fillQuota();
  for (const n of [1, 2, 3, 4, 5]) await signUp(`s${n}@example.com`);
  await cap(2);
  expect(await release()).toBe(false);
  await cap(0);
  expect(await release()).toBe(false);
  await cap(3);
  await release();
  await release();
  expect(confirmations().filter((m) => m.status === "queued").length).toBe(2);
  expect(used()).toBe(3);
  t.clock.set(Date.UTC(2026, 1, 1) - 1);
  await release();
  expect(confirmations().filter((m) => m.status === "queued").length).toBe(2);
  t.clock.set(Date.UTC(2026, 1, 1));
  await release();
  expect(confirmations().map((m) => m.status)).toEqual(["queued", "queued", "queued", "queued", "queued"]);
  expect(t.server.sql("SELECT month, used FROM quota_usage ORDER BY month")).toEqual([{ month: "2026-01", used: 3 }, { month: "2026-02", used: 3 }]);
});

test("a channel deleted with mail waiting: its deferred mail goes with it, the job runs on", async () => {
  await fillQuota();
  await signUp("ada@example.com");
  const other = await api("POST", "/channels", { channel: { name: "Other", slug: "other", sender_email: "other@example.com" } });
  expect(other.status).toBe(201);
  const res = await api("DELETE", "/channels/default", { confirm: "default" });
  expect(res.status).toBe(200);
  expect(await release()).toBe(false);
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE status = 'deferred'")[0].n).toBe(0);
});
