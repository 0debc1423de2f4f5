/**
 * The hosted opt-in form (§10.1) by plain HTTP: the page, a urlencoded and a JSON submission, the
 * form's double opt-in end to end (its confirmation template at a real SMTP sink, confirmed by
 * POST), the honeypot, no disclosure for existing/unsubscribed addresses, Origin/CORS rules,
 * invalid input and the per-IP limit.
 */
import { expect, test } from "bun:test";
import { eachWithSink, startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { SmtpSink } from "../smtp-sink";

let t: OutboxTest;
let sink: SmtpSink;
eachWithSink(() => startOutboxTest(), (test, s) => ((t = test), (sink = s)));

const api = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
async function form(fields: Record<string, unknown> = {}) {
  const res = await api("POST", "/opt_in_forms", {
    channel: "default",
    opt_in_form: {
      label: "Weekly news",
      opt_in_form_blocks: [
        { block_type: "text", text_value: "Get the news" },
        { block_type: "input_field", input_field_value_type: "email", input_field_label: "Your email", required: true },
        { block_type: "input_field", input_field_value_type: "name", input_field_label: "Name" },
        { block_type: "input_field", input_field_value_type: "custom:company", input_field_label: "Company" },
        { block_type: "button", button_label: "Sign me up" },
      ],
      opt_in_post_submission_blocks: [{ block_type: "text", text_value: "Thanks, see you soon" }],
      automation_settings: { tag_list: "news, weekly" },
      ...fields,
    },
  });
  expect(res.status).toBe(201);
  return res.body;
}
const post = (identifier: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${t.server.url}/f/${identifier}`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body });
const subscriber = (email: string) => t.server.sql("SELECT * FROM subscribers WHERE email = ?", email)[0];

test("the page is a real form; a urlencoded post subscribes with tags, name and custom data, then 303 to the post-submission view", async () => {
  const f = await form();
  const page = await fetch(`${t.server.url}/f/${f.identifier}`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('<form method="post" novalidate>');
  expect(html).toContain('<label for="f-2">Your email</label><br><input id="f-2" name="email" type="email" autocomplete="email" required');
  expect(html).toContain('name="custom[company]"');
  expect(html).toContain('<button type="submit">Sign me up</button>');
  expect(html).not.toMatch(/<script|<link|src="http/);

  const res = await post(f.identifier, "email=Ada%40Example.com&name=Ada+King+Lovelace&custom%5Bcompany%5D=Engines&custom%5Bother%5D=x&website=");
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe(`/f/${f.identifier}?submitted=1`);
  expect(subscriber("ada@example.com")).toMatchObject({ source: "form", first_name: "Ada", last_name: "King Lovelace", confirmed_at: null, confirmation_sent_at: null });
  expect(JSON.parse(subscriber("ada@example.com").tags)).toEqual(["news", "weekly"]);
  expect(JSON.parse(subscriber("ada@example.com").custom_data)).toEqual({ company: "Engines" });
  expect(await (await fetch(`${t.server.url}/f/${f.identifier}?submitted=1`)).text()).toContain("<p>Thanks, see you soon</p>");

  const multipart = new FormData();
  multipart.set("email", "grace@example.com");
  multipart.set("first_name", "Grace");
  const res2 = await fetch(`${t.server.url}/f/${f.identifier}`, { method: "POST", redirect: "manual", body: multipart });
  expect(res2.status).toBe(303);
  expect(subscriber("grace@example.com")).toMatchObject({ first_name: "Grace", last_name: null, source: "form" });
});

test("a double opt-in form: JSON post → pending_confirmation, the form's confirmation template arrives, POST on its link confirms", async () => {
  const template = await api("POST", "/templates", { channel: "default", template: { label: "Form confirm", subject: "Confirm the weekly news", body: '<a href="{{ confirmation_url }}">Yes</a>', template_purpose: "confirmation" } });
  const f = await form({ automation_settings: { double_opt_in: true }, confirmation_email_template_id: template.body.id });
  const res = await post(f.identifier, JSON.stringify({ email: "bo@example.com", first_name: "Bo" }), { "content-type": "application/json" });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true, status: "pending_confirmation" });
  expect(subscriber("bo@example.com").confirmed_at).toBeNull();
  while (await t.tick());
  const [mail] = await sink.waitFor(1);
  expect(mail!.parsed.subject).toBe("Confirm the weekly news");
  const link = /href="([^"]+)"/.exec(mail!.parsed.html as string)![1]!.replace(/^https?:\/\/[^/]+/, t.server.url);
  expect((await fetch(link, { method: "POST" })).status).toBe(200);
  expect(subscriber("bo@example.com").confirmed_at).toBe(t.clock.now());
});

test("no disclosure: existing and unsubscribed addresses get the same success; a filled honeypot stores nothing", async () => {
  const f = await form();
  await api("POST", "/subscribers", { channel: "default", email: "gone@example.com" });
  await api("POST", "/subscribers/unsubscribe", { channel: "default", email: "gone@example.com" });
  for (const email of ["new@example.com", "new@example.com", "gone@example.com"]) {
    const res = await post(f.identifier, `email=${email}`, { accept: "application/json" });
    expect(await res.json()).toEqual({ ok: true, status: "subscribed" });
  }
  expect(subscriber("gone@example.com").unsubscribed_at).not.toBeNull();
  const bot = await post(f.identifier, "email=bot@example.com&website=http://spam", { accept: "application/json" });
  expect(await bot.json()).toEqual({ ok: true, status: "subscribed" });
  expect(subscriber("bot@example.com")).toBeUndefined();
});

test("invalid input: 422 JSON, or the page again with the error; unsupported bodies 415; unknown or disabled forms 404", async () => {
  const f = await form();
  const bad = await post(f.identifier, JSON.stringify({ email: "nope" }), { "content-type": "application/json" });
  expect(bad.status).toBe(422);
  expect(await bad.json()).toEqual({ error: "Email is invalid", errors: { email: ["is invalid"] } });
  const page = await post(f.identifier, "email=nope&name=Ada");
  expect(page.status).toBe(422);
  const html = await page.text();
  expect(html).toContain('value="nope" aria-invalid="true"');
  expect(html).toContain('role="alert" style="color:#b00">is invalid</span>');
  expect((await post(f.identifier, "x", { "content-type": "text/plain" })).status).toBe(415);
  expect((await post(f.identifier, `email=${"a".repeat(17000)}`)).status).toBe(413);
  await api("PATCH", `/opt_in_forms/${f.id}`, { opt_in_form: { enabled: false } });
  expect((await fetch(`${t.server.url}/f/${f.identifier}`)).status).toBe(404);
  expect((await post(f.identifier, "email=a@example.com")).status).toBe(404);
  expect((await fetch(`${t.server.url}/f/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  expect(t.server.sql("SELECT count(*) AS n FROM subscribers")[0].n).toBe(0);
});

test("Origin: allowed embedding domains get CORS (and a preflight), others 403 with nothing stored", async () => {
  const f = await form({ allowed_embedding_domains: ["*.shop.example"] });
  const ok = await post(f.identifier, "email=c@example.com", { origin: "https://www.shop.example", accept: "application/json" });
  expect(ok.status).toBe(200);
  expect(ok.headers.get("access-control-allow-origin")).toBe("https://www.shop.example");
  const pre = await fetch(`${t.server.url}/f/${f.identifier}`, { method: "OPTIONS", headers: { origin: "https://a.shop.example" } });
  expect(pre.status).toBe(204);
  expect(pre.headers.get("access-control-allow-methods")).toBe("POST");
  const refused = await post(f.identifier, "email=d@example.com", { origin: "https://evil.example" });
  expect(refused.status).toBe(403);
  expect((await fetch(`${t.server.url}/f/${f.identifier}`, { method: "OPTIONS", headers: { origin: "https://evil.example" } })).status).toBe(403);
  expect(subscriber("d@example.com")).toBeUndefined();
});

test("submissions_per_ip_per_hour: the next one is 429 until the hour has passed", async () => {
  const f = await form({ security_settings: { submissions_per_ip_per_hour: 2 } });
  for (const n of [1, 2]) expect((await post(f.identifier, `email=n${n}@example.com`)).status).toBe(303);
  const limited = await post(f.identifier, "email=n3@example.com");
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(subscriber("n3@example.com")).toBeUndefined();
  t.clock.advance(3600_000);
  expect((await post(f.identifier, "email=n3@example.com")).status).toBe(303);
});

test("analytics: views (unique per day by IP + user agent), submissions and conversion, per day and in the form's totals", async () => {
  const f = await form();
  const view = (ua: string) => fetch(`${t.server.url}/f/${f.identifier}`, { headers: { "user-agent": ua } });
  await view("A");
  await view("A");
  await view("B");
  await fetch(`${t.server.url}/f/${f.identifier}?submitted=1`);
  expect((await post(f.identifier, "email=v1@example.com")).status).toBe(303);
  await post(f.identifier, "email=bad");
  t.clock.advance(86_400_000);
  await view("A");

  const today = new Date(t.clock.now()).toISOString().slice(0, 10);
  const yesterday = new Date(t.clock.now() - 86_400_000).toISOString().slice(0, 10);
  const res = await api("GET", `/opt_in_forms/${f.id}/analytics?start_date=${yesterday}&end_date=${today}`);
  expect(res.body).toEqual({
    form_id: f.id,
    start_date: yesterday,
    end_date: today,
    totals: { views: 4, unique_views: 3, submissions: 1, conversion_rate: 33.33 },
    daily: [{ date: yesterday, views: 3, unique_views: 2, submissions: 1 }, { date: today, views: 1, unique_views: 1, submissions: 0 }],
    variants: [],
  });
  expect((await api("GET", `/opt_in_forms/${f.id}`)).body.analytics).toEqual({ views_count: 4, unique_views_count: 3, submissions_count: 1, conversion_rate: 33.33 });
  const last30 = await api("GET", `/opt_in_forms/${f.id}/analytics`);
  expect(last30.body.daily.length).toBe(30);
  expect(last30.body.end_date).toBe(today);
  // Only today's viewer hashes are kept.
  expect(t.server.sql("SELECT DISTINCT day FROM opt_in_form_visitors").map((r) => r.day)).toEqual([today]);

  for (const [q, errors] of [
    ["start_date=2026-02-30", { start_date: ["is not a valid date (YYYY-MM-DD)"] }],
    [`start_date=${today}&end_date=${yesterday}`, { start_date: ["must be on or before end_date"] }],
    ["start_date=2024-01-01&end_date=2025-12-31", { end_date: ["is more than 366 days from start_date"] }],
  ] as const) {
    const bad = await api("GET", `/opt_in_forms/${f.id}/analytics?${q}`);
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual(errors);
  }
});

test("welcome email: a new sign-up gets it at once; with double opt-in only after confirming (once)", async () => {
  const welcome = await api("POST", "/templates", { channel: "default", template: { label: "Welcome", subject: "Welcome {{ first_name }}", body: "<p>Glad you are here</p>" } });
  const plain = await form({ automation_settings: { send_welcome_email: true }, welcome_email_template_id: welcome.body.id });
  await post(plain.identifier, "email=wes@example.com&first_name=Wes");
  await post(plain.identifier, "email=wes@example.com&first_name=Wes");
  while (await t.tick());
  const [first] = await sink.waitFor(1);
  expect(first!.parsed.subject).toBe("Welcome Wes");
  expect(first!.header("list-unsubscribe")).toMatch(/^<http.*\/u\/.+>$/);

  const confirm = await api("POST", "/templates", { channel: "default", template: { label: "C", subject: "Please confirm", body: '<a href="{{ confirmation_url }}">Yes</a>', template_purpose: "confirmation" } });
  const doi = await form({ automation_settings: { send_welcome_email: true, double_opt_in: true }, welcome_email_template_id: welcome.body.id, confirmation_email_template_id: confirm.body.id });
  await post(doi.identifier, "email=dee@example.com&first_name=Dee");
  while (await t.tick());
  const [, confirmation] = await sink.waitFor(2);
  expect(confirmation!.parsed.subject).toBe("Please confirm");
  const link = /href="([^"]+)"/.exec(confirmation!.parsed.html as string)![1]!.replace(/^https?:\/\/[^/]+/, t.server.url);
  await fetch(link);
  while (await t.tick());
  expect(sink.messages.length).toBe(2);
  await fetch(link, { method: "POST" });
  await fetch(link, { method: "POST" });
  while (await t.tick());
  const mails = await sink.waitFor(3);
  expect(mails.map((m) => m.parsed.subject)).toEqual(["Welcome Wes", "Please confirm", "Welcome Dee"]);
  expect(t.server.sql("SELECT count(*) AS n FROM messages WHERE source = 'welcome'")[0].n).toBe(2);
});

test("variants: shown by weight, sticky by cookie; a post from a variant uses and counts that variant", async () => {
  const f = await form();
  const variant = await api("POST", `/opt_in_forms/${f.id}/variants`, { name: "Loud", weight: 50 });
  await api("PATCH", `/opt_in_forms/${variant.body.id}`, {
    opt_in_form: {
      opt_in_form_blocks: [{ block_type: "input_field", input_field_value_type: "email" }, { block_type: "button", button_label: "JOIN NOW" }],
      automation_settings: { tag_list: "loud" },
    },
  });
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${t.server.url}/f/${f.identifier}`);
    expect(res.headers.get("set-cookie")).toMatch(new RegExp(`^mr_form_${f.id}=(${f.id}|${variant.body.id}); Path=/f/${f.identifier}; Max-Age=2592000; SameSite=Lax; HttpOnly$`));
    seen.add((await res.text()).includes("JOIN NOW") ? "variant" : "form");
  }
  expect([...seen].sort()).toEqual(["form", "variant"]);
  const sticky = { cookie: `other=1; mr_form_${f.id}=${variant.body.id}` };
  for (let i = 0; i < 5; i++) {
    const html = await (await fetch(`${t.server.url}/f/${f.identifier}`, { headers: sticky })).text();
    expect(html).toContain("JOIN NOW");
    expect(html).toContain(`<input type="hidden" name="variant_id" value="${variant.body.id}">`);
  }
  expect((await post(f.identifier, `email=v@example.com&variant_id=${variant.body.id}`)).status).toBe(303);
  expect(JSON.parse(subscriber("v@example.com").tags)).toEqual(["loud"]);

  const analytics = (await api("GET", `/opt_in_forms/${f.id}/analytics`)).body;
  expect(analytics.totals.views).toBe(45);
  expect(analytics.totals.submissions).toBe(1);
  expect(analytics.variants).toEqual([expect.objectContaining({ id: variant.body.id, variant_name: "Loud", variant_weight: 50, submissions: 1 })]);
  expect(analytics.variants[0].views).toBeGreaterThanOrEqual(5);
  expect((await api("GET", `/opt_in_forms/${f.id}`)).body.analytics.views_count).toBe(45);
  expect((await api("GET", `/opt_in_forms/${variant.body.id}`)).body.analytics.submissions_count).toBe(1);

  // A disabled variant is not shown, even to a visitor it was shown to before.
  await api("PATCH", `/opt_in_forms/${variant.body.id}`, { opt_in_form: { enabled: false } });
  expect(await (await fetch(`${t.server.url}/f/${f.identifier}`, { headers: sticky })).text()).not.toContain("JOIN NOW");
});
