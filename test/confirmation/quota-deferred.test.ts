/**
 * System mail at a full monthly quota (§1.8): a confirmation or welcome email waits as `deferred`
 * (not claimable, not charged, no link yet) while the subscriber change succeeds, and the
 * `quota.deferred_release` job queues it oldest first when the quota frees — a raised or cleared cap
 * (PATCH /channels) or a new UTC month (the fake clock). The released confirmation's link is valid
 * 7 days from its release and confirms. A transactional API send at a full quota is still refused.
 */
import { expect, test } from "bun:test";
import { QUOTA_RELEASE_JOB } from "@/outbox/quota-release";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { SinkMessage, SmtpSink } from "../smtp-sink";

let t: OutboxTest;
let sink: SmtpSink;
eachWithSink(() => startOutboxTest(), (test, s) => ((t = test), (sink = s)));

const DAY = 24 * 3600 * 1000;
const api = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
const systemMail = (source: string) => t.server.sql("SELECT * FROM messages WHERE kind = 'system' AND source = ? ORDER BY id", source);
const used = () => t.server.sql("SELECT coalesce(sum(used), 0) AS n FROM quota_usage")[0].n as number;
const release = () => t.server.running.jobs.get(QUOTA_RELEASE_JOB)!.tick(t.clock.now());
async function deliverAll() {
  while (await t.tick());
}
/** Sets the default channel's cap and uses it up with one transactional. */
async function fillQuota() {
  expect((await api("PATCH", "/channels/default", { channel: { monthly_send_quota: 1 } })).status).toBe(200);
  await t.send({ to: "first@example.com" });
  await deliverAll();
  await sink.waitFor(1);
  expect(used()).toBe(1);
}
function linkIn(mail: SinkMessage): string {
  return /href="([^"]+\/c\/[^"]+)"/.exec(mail.parsed.html as string)![1]!.replace(/^https?:\/\/[^/]+/, t.server.url);
}
async function form(automation: Record<string, unknown>, fields: Record<string, unknown> = {}) {
  const res = await api("POST", "/opt_in_forms", {
    channel: "default",
    opt_in_form: {
      label: "News",
      opt_in_form_blocks: [{ block_type: "input_field", input_field_value_type: "email", input_field_label: "Email", required: true }, { block_type: "button", button_label: "Join" }],
      automation_settings: automation,
      ...fields,
    },
  });
  expect(res.status).toBe(201);
  return res.body;
}
const submit = (identifier: string, email: string) =>
  fetch(`${t.server.url}/f/${identifier}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email }) });

test("POST /subscribers with double_opt_in at a full quota: 201 pending, the confirmation deferred; a raised cap releases it and its link confirms", async () => {
  await fillQuota();
  const created = await api("POST", "/subscribers", { channel: "default", email: "ada@example.com", double_opt_in: true });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ status: "pending", confirmation_status: "pending" });
  expect(created.body.confirmation_url).toBeUndefined();
  const [deferred] = systemMail("confirmation");
  expect(deferred).toMatchObject({ status: "deferred", next_attempt_at: null, recipient_email: "ada@example.com" });
  expect(JSON.parse(deferred.data).confirmation_url).toBeUndefined();
  expect(used()).toBe(1);
  expect(t.server.sql("SELECT count(*) AS n FROM events WHERE type LIKE 'email.%' AND transactional_id = ?", deferred.id)[0].n).toBe(0);

  // Nothing is claimable and the job finds no room while the cap stands.
  await deliverAll();
  expect(await release()).toBe(false);
  expect(systemMail("confirmation")[0].status).toBe("deferred");
  expect(sink.messages.length).toBe(1);

  // Raised two days later: released and charged; the link counts its 7 days from the release.
  t.clock.advance(2 * DAY);
  expect((await api("PATCH", "/channels/default", { channel: { monthly_send_quota: 10 } })).status).toBe(200);
  await release();
  expect(systemMail("confirmation")[0]).toMatchObject({ status: "queued", next_attempt_at: t.clock.now() });
  expect(used()).toBe(2);
  await deliverAll();
  const [, mail] = await sink.waitFor(2);
  expect(mail!.envelope.to).toEqual(["ada@example.com"]);
  t.clock.advance(6 * DAY);
  expect((await fetch(linkIn(mail!), { method: "POST" })).status).toBe(200);
  expect(t.server.sql("SELECT confirmed_at FROM subscribers WHERE id = ?", created.body.id)[0].confirmed_at).toBe(t.clock.now());
});

test("a new UTC month releases deferred mail oldest first, as far as the cap allows", async () => {
  await fillQuota();
  for (const email of ["a@example.com", "b@example.com"]) {
    expect((await api("POST", "/subscribers", { channel: "default", email, double_opt_in: true })).status).toBe(201);
  }
  t.clock.set(Date.UTC(2026, 1, 1, 0, 0, 30));
  expect(await release()).toBe(false);
  expect(systemMail("confirmation").map((m) => [m.recipient_email, m.status])).toEqual([["a@example.com", "queued"], ["b@example.com", "deferred"]]);
  await deliverAll();
  const [, mail] = await sink.waitFor(2);
  expect(mail!.envelope.to).toEqual(["a@example.com"]);
  expect(t.server.sql("SELECT used FROM quota_usage WHERE month = '2026-02'")[0].used).toBe(1);

  // Clearing the cap releases the rest.
  await api("PATCH", "/channels/default", { channel: { monthly_send_quota: null } });
  await release();
  await deliverAll();
  expect((await sink.waitFor(3)).map((m) => m.envelope.to[0])).toEqual(["first@example.com", "a@example.com", "b@example.com"]);
});

test("a hosted form post at a full quota: the normal success, its confirmation deferred", async () => {
  await fillQuota();
  const f = await form({ double_opt_in: true });
  const res = await submit(f.identifier, "dee@example.com");
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true, status: "pending_confirmation" });
  expect(systemMail("confirmation").map((m) => [m.recipient_email, m.status])).toEqual([["dee@example.com", "deferred"]]);
  expect(JSON.parse(systemMail("confirmation")[0].data)).toEqual({ form_id: f.id });

  await api("PATCH", "/channels/default", { channel: { monthly_send_quota: 2 } });
  await release();
  await deliverAll();
  const [, mail] = await sink.waitFor(2);
  expect((await fetch(linkIn(mail!), { method: "POST" })).status).toBe(200);
  expect(t.server.sql("SELECT confirmed_at FROM subscribers WHERE email = 'dee@example.com'")[0].confirmed_at).not.toBeNull();
});

test("a welcome email at a full quota is deferred, then released", async () => {
  const welcome = await api("POST", "/templates", { channel: "default", template: { label: "Welcome", subject: "Welcome aboard", body: "<p>Hi</p>" } });
  const f = await form({ send_welcome_email: true }, { welcome_email_template_id: welcome.body.id });
  await fillQuota();
  expect((await submit(f.identifier, "wes@example.com")).status).toBe(200);
  expect(t.server.sql("SELECT is_active FROM subscribers WHERE email = 'wes@example.com'")[0].is_active).toBe(1);
  expect(systemMail("welcome").map((m) => m.status)).toEqual(["deferred"]);
  await deliverAll();
  expect(sink.messages.length).toBe(1);

  t.clock.set(Date.UTC(2026, 1, 1));
  await release();
  await deliverAll();
  const [, mail] = await sink.waitFor(2);
  expect(mail!.parsed.subject).toBe("Welcome aboard");
  expect(mail!.envelope.to).toEqual(["wes@example.com"]);
});

test("a transactional API send at a full quota is still refused with 402, and nothing is deferred", async () => {
  await fillQuota();
  const res = await t.server.request("POST", "/api/v1/transactionals", { token: t.server.defaultToken, body: { to: "b@example.com", subject: "S", body: "<p>B</p>" } });
  expect(res.status).toBe(402);
  expect(res.body).toEqual({ error: "Payment Required", message: "Monthly send quota exhausted" });
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE status = 'deferred'")[0].n).toBe(0);
});

test("with the job runner started, PATCH /channels raising the cap wakes the release at once (not after the job's minute)", async () => {
  const live = await startOutboxTest({ startJobs: true });
  try {
    const liveSink = await live.sink();
    await live.addServer(liveSink.port);
    const call = (method: string, path: string, body?: unknown) => live.server.request(method, `/api/v1${path}`, { body });
    await call("PATCH", "/channels/default", { channel: { monthly_send_quota: 0 } });
    expect((await call("POST", "/subscribers", { channel: "default", email: "eve@example.com", double_opt_in: true })).status).toBe(201);
    expect(live.server.sql("SELECT status FROM messages WHERE kind = 'system'")[0].status).toBe("deferred");
    await call("PATCH", "/channels/default", { channel: { monthly_send_quota: 5 } });
    const [mail] = await liveSink.waitFor(1, 5_000);
    expect(mail!.envelope.to).toEqual(["eve@example.com"]);
  } finally {
    await live.stop();
  }
});

test("deferred mail that lost its point is dropped unsent and uncharged: a redacted subscriber's, an already confirmed one's", async () => {
  await fillQuota();
  for (const email of ["gone@example.com", "done@example.com", "kept@example.com"]) {
    expect((await api("POST", "/subscribers", { channel: "default", email, double_opt_in: true })).status).toBe(201);
  }
  expect((await api("POST", "/subscribers/redact", { channel: "default", email: "gone@example.com" })).status).toBe(200);
  const confirmed = await api("POST", "/subscribers", { channel: "default", email: "done@example.com", confirmed_at: "2026-01-15T11:00:00Z" });
  expect(confirmed.body.confirmation_status).toBe("confirmed");

  await api("PATCH", "/channels/default", { channel: { monthly_send_quota: null } });
  await release();
  expect(systemMail("confirmation").map((m) => [m.recipient_email, m.status])).toEqual([["kept@example.com", "queued"]]);
  expect(used()).toBe(2);
  await deliverAll();
  expect((await sink.waitFor(2)).map((m) => m.envelope.to[0])).toEqual(["first@example.com", "kept@example.com"]);
});
