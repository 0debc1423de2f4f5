/**
 * Condition steps fed by real tracking requests: the open pixel and a tracked link of delivered
 * sequence mail fetched over HTTP (yes branch), nothing fetched (no branch); the click redirects to
 * the link of the mail as it was queued even after the step's body was edited.
 */
import { expect, test } from "bun:test";
import type { SinkMessage, SmtpSink } from "../smtp-sink";
import { eachWithSink } from "../outbox/helpers";
import { startSchedulerTest, type SchedulerTest } from "./scheduler-helpers";

let t: SchedulerTest;
let sink: SmtpSink;
eachWithSink(startSchedulerTest, (test, s) => ((t = test), (sink = s)));

const DAY = 86_400;
const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, t.server.url);
const pixel = (m: SinkMessage) => /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(m.parsed.html as string)![1]!;
const trackedLinks = (m: SinkMessage) => [...(m.parsed.html as string).matchAll(/href="([^"]+\/t\/c\/[^"]+)"/g)].map((x) => x[1]!);

/** entry → send → delay 1 day → condition(setting) → yes: tag "yes" / no: tag "no". */
async function branching(setting: string) {
  const s = await t.sequence();
  const send = await t.addStep(s.id, { action: "send_email", subject: "Tips", body: '<p>Read <a href="https://ex.com/tips?a=1&amp;b=2">the tips</a></p>' });
  const wait = await t.addStep(s.id, { action: "delay", delay: DAY, parent_id: send.id });
  const condition = await t.addStep(s.id, { action: "condition", condition_setting: setting, parent_id: wait.id });
  await t.addStep(s.id, { action: "add_tag_to_subscriber", taggify_list: "yes", parent_id: condition.id, branch: "yes" });
  await t.addStep(s.id, { action: "add_tag_to_subscriber", taggify_list: "no", parent_id: condition.id, branch: "no" });
  return { s, send };
}

const tagsOf = (email: string) => JSON.parse(t.server.sql("SELECT tags FROM subscribers WHERE email = ?", email)[0].tags);

async function afterTheDay() {
  t.clock.advance(DAY * 1000);
  await t.run();
}

test("previous_email_opened: a real GET of the pixel → yes; no open → no", async () => {
  const { s } = await branching("previous_email_opened");
  await t.enroll(s.id, "open@example.com");
  await t.enroll(s.id, "quiet@example.com");
  await t.run();
  const mails = await sink.waitFor(2);
  const opener = mails.find((m) => m.envelope.to[0] === "open@example.com")!;
  const gif = await fetch(local(pixel(opener)));
  expect(gif.status).toBe(200);
  expect(t.server.sql("SELECT opened_at FROM messages WHERE recipient_email = 'open@example.com'")[0].opened_at).toBe(t.clock.now());
  await afterTheDay();
  expect(tagsOf("open@example.com")).toEqual(["yes"]);
  expect(tagsOf("quiet@example.com")).toEqual(["no"]);
  expect(t.enrollment(s.id, "open@example.com").status).toBe("completed");
  expect(t.server.sql("SELECT count(*) AS n FROM events WHERE type = 'email.opened'")[0].n).toBe(1);
});

test("any_email_clicked: a real click → yes, redirected to the link as queued although the step was edited since", async () => {
  const { s, send } = await branching("any_email_clicked");
  await t.enroll(s.id, "click@example.com");
  await t.enroll(s.id, "idle@example.com");
  await t.run();
  const mails = await sink.waitFor(2);
  await t.server.request("PATCH", `/api/v1/sequences/${s.id}/steps/${send.id}`, { body: { body: '<p><a href="https://other.example/">Other</a></p>' } });
  const clicker = mails.find((m) => m.envelope.to[0] === "click@example.com")!;
  const [link] = trackedLinks(clicker);
  expect(clicker.parsed.text).toContain("https://ex.com/tips?a=1&b=2");
  const click = await fetch(local(link!), { redirect: "manual" });
  expect(click.status).toBe(302);
  expect(click.headers.get("location")).toBe("https://ex.com/tips?a=1&b=2");
  const clicked = t.server.sql("SELECT data FROM events WHERE type = 'email.clicked'");
  expect(clicked.map((e) => JSON.parse(e.data).url)).toEqual(["https://ex.com/tips?a=1&b=2"]);
  await afterTheDay();
  expect(tagsOf("click@example.com")).toEqual(["yes"]);
  expect(tagsOf("idle@example.com")).toEqual(["no"]);
});

test("a sequence without tracking sends no pixel and rewrites no links", async () => {
  const s = await t.sequence({ track_opens: false, track_clicks: false });
  await t.addStep(s.id, { action: "send_email", subject: "Plain", body: '<p><a href="https://ex.com/x">x</a></p>' });
  await t.enroll(s.id, "plain@example.com");
  await t.run();
  const [mail] = await sink.waitFor(1);
  expect(mail!.parsed.html).not.toContain("/t/o/");
  expect(trackedLinks(mail!)).toEqual([]);
  expect(mail!.parsed.html).toContain('href="https://ex.com/x"');
});
