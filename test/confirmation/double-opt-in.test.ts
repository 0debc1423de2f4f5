/**
 * Double opt-in end to end (§3, §4, §10.2, §16 /c/): the confirmation email arrives at a real SMTP
 * sink, its link is followed with real requests — a GET changes nothing, a POST confirms — and a
 * transactional held for the confirmation is delivered only after it. Forged, tampered and expired
 * links get a plain 404 page and change nothing; held mail expires after 7 days; POSTs are limited per IP.
 */
import { expect, test } from "bun:test";
import { createTestChannel } from "../fixtures";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { SinkMessage, SmtpSink } from "../smtp-sink";

let t: OutboxTest;
let sink: SmtpSink;
eachWithSink(() => startOutboxTest(), (test, s) => ((t = test), (sink = s)));

const api = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
const subscriber = (id: number) => t.server.sql("SELECT * FROM subscribers WHERE id = ?", id)[0];
const subscriberEvents = (id: number) => t.server.sql("SELECT type FROM events WHERE subscriber_id = ? AND type LIKE 'subscriber.%' ORDER BY id", id).map((e) => e.type);
/** The /c/ link of a delivered confirmation email, pointed at the test server. */
function linkIn(mail: SinkMessage): string {
  const href = /href="([^"]+\/c\/[^"]+)"/.exec(mail.parsed.html as string)![1]!;
  return href.replace(/^https?:\/\/[^/]+/, t.server.url);
}
/** Delivers what is due and returns the sink's messages once `n` have arrived. */
async function deliver(n: number) {
  while (await t.tick());
  return sink.waitFor(n);
}

test("subscriber: the confirmation email's link shows a Confirm button on GET (no change) and confirms on POST, idempotently", async () => {
  const created = await api("POST", "/subscribers", { channel: "default", email: "ada@example.com", first_name: "Ada", double_opt_in: true });
  expect(created.body.status).toBe("pending");
  const [mail] = await deliver(1);
  expect(mail!.envelope.to).toEqual(["ada@example.com"]);
  expect(mail!.parsed.subject).toStartWith("Please confirm your subscription to ");
  const link = linkIn(mail!);
  expect(link.replace(t.server.url, t.server.deps.config.publicUrl)).toBe(created.body.confirmation_url);
  expect(mail!.parsed.text).toContain(created.body.confirmation_url);
  expect(mail!.header("list-unsubscribe")).toBeUndefined();

  // A link scanner's GET (and a second one) confirms nothing.
  for (let i = 0; i < 2; i++) {
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    expect(html).toContain('<form method="post"><button type="submit"');
    expect(html).toContain("ada@example.com");
  }
  expect(subscriber(created.body.id).confirmed_at).toBeNull();
  expect(subscriberEvents(created.body.id)).toEqual(["subscriber.created"]);

  const confirmed = await fetch(link, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" });
  expect(confirmed.status).toBe(200);
  expect(await confirmed.text()).toContain("Subscription confirmed");
  expect(subscriber(created.body.id).confirmed_at).toBe(t.clock.now());
  const found = await api("GET", "/subscribers/find?channel=default&email=ada@example.com");
  expect(found.body).toMatchObject({ status: "active", confirmation_status: "confirmed" });

  // Again: nothing more happens.
  const again = await fetch(link, { method: "POST" });
  expect(again.status).toBe(200);
  expect(await again.text()).toContain("Already confirmed");
  expect(await (await fetch(link)).text()).not.toContain("<form");
  expect(subscriberEvents(created.body.id)).toEqual(["subscriber.created", "subscriber.subscribed"]);
});

test("transactional: held behind the confirmation email, delivered only after the POST", async () => {
  const sent = await t.send({ to: "Bob <bob@example.com>", subject: "Your receipt", body: "<p>Thanks</p>", double_opt_in: true });
  expect(sent).toMatchObject({ status: "pending_confirmation", confirmation_status: "pending" });
  const [mail] = await deliver(1);
  expect(mail!.parsed.subject).toStartWith("Please confirm");
  const link = linkIn(mail!);

  expect((await fetch(link)).status).toBe(200);
  expect(await t.tick()).toBe(false);
  expect(sink.messages.length).toBe(1);
  expect(t.row(sent.id).status).toBe("pending_confirmation");

  expect((await fetch(link, { method: "POST" })).status).toBe(200);
  const [, receipt] = await deliver(2);
  expect(receipt!.parsed.subject).toBe("Your receipt");
  expect(receipt!.envelope.to).toEqual(["bob@example.com"]);
  expect(t.row(sent.id).status).toBe("sent");
});

test("an unsubscribed subscriber asked again is resubscribed only by confirming; a deactivated one stays inactive", async () => {
  await api("POST", "/subscribers", { channel: "default", email: "gone@example.com" });
  await api("POST", "/subscribers/unsubscribe", { channel: "default", email: "gone@example.com" });
  const asked = await api("POST", "/subscribers", { channel: "default", email: "gone@example.com", double_opt_in: true });
  expect(asked.status).toBe(200);
  expect(asked.body).toMatchObject({ status: "unsubscribed", confirmation_status: "pending" });
  const [mail] = await deliver(1);
  await fetch(linkIn(mail!));
  expect(subscriber(asked.body.id).unsubscribed_at).not.toBeNull();
  await fetch(linkIn(mail!), { method: "POST" });
  expect(subscriber(asked.body.id)).toMatchObject({ unsubscribed_at: null, is_active: 1 });
  expect(subscriberEvents(asked.body.id).at(-1)).toBe("subscriber.subscribed");

  await api("POST", "/subscribers", { channel: "default", email: "paused@example.com", is_active: false, double_opt_in: true });
  const [, second] = await deliver(2);
  await fetch(linkIn(second!), { method: "POST" });
  const paused = t.server.sql("SELECT * FROM subscribers WHERE email = 'paused@example.com'")[0];
  expect(paused.confirmed_at).toBe(t.clock.now());
  expect(paused.is_active).toBe(0);
});

test("a full monthly quota: the subscriber asked to confirm is stored pending, the confirmation deferred (quota-deferred.test.ts)", async () => {
  createTestChannel(t.server.deps, "Tiny", { sender_email: "news@example.com", monthly_send_quota: 1 });
  expect((await api("POST", "/subscribers", { channel: "tiny", email: "one@example.com", double_opt_in: true })).status).toBe(201);
  const full = await api("POST", "/subscribers", { channel: "tiny", email: "two@example.com", double_opt_in: true });
  expect(full.status).toBe(201);
  expect(full.body).toMatchObject({ status: "pending", confirmation_status: "pending" });
  expect(t.server.sql("SELECT status FROM messages WHERE recipient_email = 'two@example.com'").map((m) => m.status)).toEqual(["deferred"]);
  // Without double opt-in nothing is sent, so nothing is charged.
  expect((await api("POST", "/subscribers", { channel: "tiny", email: "three@example.com" })).status).toBe(201);
});

test("forged and tampered links: plain 404 page on GET and POST, nothing changes", async () => {
  const a = await api("POST", "/subscribers", { channel: "default", email: "a@example.com", double_opt_in: true });
  const b = await api("POST", "/subscribers", { channel: "default", email: "b@example.com", double_opt_in: true });
  const [payload, sig] = a.body.confirmation_url.split("/c/")[1].split(".");
  const [, expires, txId] = JSON.parse(Buffer.from(payload, "base64url").toString());
  const otherSubscriber = Buffer.from(JSON.stringify([b.body.id, expires, txId])).toString("base64url");
  const longer = Buffer.from(JSON.stringify([a.body.id, expires + 86400 * 30, txId])).toString("base64url");
  for (const token of [`${otherSubscriber}.${sig}`, `${longer}.${sig}`, `${payload}.AAAAAAAAAAAAAAAAAAAAAA`, "nonsense", `${payload}.${sig}x`]) {
    for (const method of ["GET", "POST"]) {
      const res = await fetch(`${t.server.url}/c/${token}`, { method });
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await res.text()).toContain("This link is not valid.");
    }
  }
  expect(t.server.sql("SELECT count(*) AS n FROM subscribers WHERE confirmed_at IS NOT NULL")[0].n).toBe(0);
  expect(t.server.sql("SELECT count(*) AS n FROM events WHERE type = 'subscriber.subscribed'")[0].n).toBe(0);
});

test("after 7 days the link is expired (404, no change) and the held transactional fails with confirmation_expired", async () => {
  const sent = await t.send({ to: "late@example.com", double_opt_in: true });
  const [mail] = await deliver(1);
  const link = linkIn(mail!);
  const expiry = t.server.running.jobs.get("confirmation.expiry")!;

  t.clock.advance(7 * 86400_000 - 1000);
  expect(await expiry.tick(t.clock.now())).toBe(false);
  expect(t.row(sent.id).status).toBe("pending_confirmation");

  t.clock.advance(1000);
  for (const method of ["GET", "POST"]) {
    const res = await fetch(link, { method });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("This confirmation link has expired.");
  }
  expect(t.server.sql("SELECT confirmed_at FROM subscribers WHERE email = 'late@example.com'")[0].confirmed_at).toBeNull();
  await expiry.tick(t.clock.now());
  expect(t.row(sent.id)).toMatchObject({ status: "failed", failure_reason: "confirmation_expired", failed_at: t.clock.now(), next_attempt_at: null });
  expect(t.eventTypes(sent.id)).toContain("email.failed");
  const failed = t.server.sql("SELECT data FROM events WHERE type = 'email.failed' AND transactional_id = ?", sent.id).map((e) => JSON.parse(e.data));
  expect(failed).toEqual([expect.objectContaining({ failure_reason: "confirmation_expired", transactional_id: sent.id })]);
  expect(await t.tick()).toBe(false);
  expect(sink.messages.length).toBe(1);
});

test("a confirmation template of the channel: its subject and body (with {{ confirmation_url }}), its page texts", async () => {
  const template = await api("POST", "/templates", {
    channel: "default",
    template: {
      label: "Confirm",
      subject: "Confirm {{ first_name }}",
      body: '<p>Hi {{ first_name }}, <a href="{{ confirmation_url }}">yes please</a></p>',
      template_purpose: "confirmation",
      confirmation_page_settings: { confirmed: { heading: "Welcome aboard", body: "See you soon." } },
      default_confirmation: true,
    },
  });
  expect(template.status).toBe(201);
  const created = await api("POST", "/subscribers", { channel: "default", email: "cy@example.com", first_name: "Cy", double_opt_in: true });
  const [mail] = await deliver(1);
  expect(mail!.parsed.subject).toBe("Confirm Cy");
  expect(mail!.parsed.html).toContain(`Hi Cy, <a href="${created.body.confirmation_url}">yes please</a>`);
  expect(t.server.sql("SELECT template_id FROM messages WHERE kind = 'system'")[0].template_id).toBe(template.body.id);
  const page = await fetch(linkIn(mail!), { method: "POST" });
  const html = await page.text();
  expect(html).toContain("<h1>Welcome aboard</h1><p>See you soon.</p>");
});

test("POST /c/ is limited to 30 a minute per IP (429 with Retry-After), valid or not", async () => {
  for (let i = 0; i < 30; i++) expect((await fetch(`${t.server.url}/c/nonsense`, { method: "POST" })).status).toBe(404);
  const limited = await fetch(`${t.server.url}/c/nonsense`, { method: "POST" });
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  t.clock.advance(60_000);
  expect((await fetch(`${t.server.url}/c/nonsense`, { method: "POST" })).status).toBe(404);
});
