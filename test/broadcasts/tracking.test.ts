/**
 * §16 by real requests: the open pixel and the click redirect of a delivered broadcast, forged and
 * tampered tokens (404, nothing recorded), the unsubscribe page and RFC 8058 one-click, and the
 * statistics, timeline and links that follow from the recorded events.
 */
import { expect, test } from "bun:test";
import type { SinkMessage, SmtpSink } from "../smtp-sink";
import { eachWithSink } from "../outbox/helpers";
import { startBroadcastTest, type BroadcastTest } from "./helpers";

let t: BroadcastTest;
let sink: SmtpSink;
eachWithSink(startBroadcastTest, (test, s) => ((t = test), (sink = s)));

const req = (method: string, path: string, body?: unknown) => t.server.request(method, `/api/v1${path}`, { body });
const BODY = `<html><body><p>Hi</p><a href="https://ex.com/a?x=1&amp;y=2">A</a> <a href="https://ex.com/b" data-mr-notrack>B</a> <a href="mailto:x@ex.com">M</a></body></html>`;

async function delivered(count: number, fields: Record<string, unknown> = {}) {
  await t.subscribers(0, count);
  const b = await t.create({ body: BODY, track_opens: true, track_clicks: true, ...fields });
  await req("POST", `/broadcasts/${b.id}/send_broadcast`);
  await t.drain();
  const mails = await sink.waitFor(count);
  return { b, mails };
}
const hrefs = (m: SinkMessage) => [...(m.parsed.html as string).matchAll(/href="([^"]+)"/g)].map((x) => x[1]!.replace(/&amp;/g, "&"));
const pixel = (m: SinkMessage) => /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(m.parsed.html as string)![1]!;
const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, t.server.url);

test("opens and clicks by real GETs become events and statistics; forged tokens and HEAD record nothing", async () => {
  const { b, mails } = await delivered(4);
  const [first, second] = mails;
  const links = hrefs(first!);
  const tracked = links.filter((h) => h.includes("/t/c/"));
  expect(tracked.length).toBe(1);
  expect(links).toContain("https://ex.com/b");
  expect(links).toContain("mailto:x@ex.com");
  expect(first!.parsed.text).toContain("https://ex.com/a?x=1&y=2");

  const gif = await fetch(local(pixel(first!)));
  expect(gif.status).toBe(200);
  expect(gif.headers.get("content-type")).toBe("image/gif");
  expect(gif.headers.get("cache-control")).toBe("no-store, private");
  expect((await gif.arrayBuffer()).byteLength).toBe(43);
  await fetch(local(pixel(first!)));
  await fetch(local(pixel(second!)));
  expect((await fetch(local(pixel(second!)), { method: "HEAD" })).status).toBe(200);

  const click = await fetch(local(tracked[0]!), { redirect: "manual" });
  expect(click.status).toBe(302);
  expect(click.headers.get("location")).toBe("https://ex.com/a?x=1&y=2");
  expect((await fetch(local(tracked[0]!), { method: "HEAD", redirect: "manual" })).status).toBe(302);

  // Tampered: another link index under the same signature, or a forged signature.
  const [payload, sig] = tracked[0]!.split("/t/c/")[1]!.split(".");
  const other = Buffer.from(JSON.stringify([JSON.parse(Buffer.from(payload!, "base64url").toString())[0], 1])).toString("base64url");
  for (const token of [`${other}.${sig}`, `${payload}.AAAAAAAAAAAAAAAAAAAAAA`, "nonsense"]) {
    const res = await fetch(`${t.server.url}/t/c/${token}`, { redirect: "manual" });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("text/html");
  }
  expect((await fetch(`${t.server.url}/t/o/${payload}.AAAAAAAAAAAAAAAAAAAAAA.gif`)).status).toBe(200);

  const opened = t.server.sql("SELECT data FROM events WHERE type = 'email.opened' AND broadcast_id = ? ORDER BY id", b.id).map((e) => JSON.parse(e.data).first_open);
  expect(opened).toEqual([true, false, true]);
  expect(t.server.sql("SELECT count(*) AS n FROM events WHERE type = 'email.clicked'")[0].n).toBe(1);

  const stats = await req("GET", `/broadcasts/${b.id}/statistics`);
  expect(stats.body).toMatchObject({
    id: b.id,
    status: "sent",
    delivery: { recipients: 4, sent: 4, delivered: 4, failed: 0, pending: 0, delivery_rate: 100 },
    engagement: { opens: { count: 3, unique: 2, rate: 50 }, clicks: { count: 1, unique: 1, rate: 25 } },
  });
  const timeline = await req("GET", `/broadcasts/${b.id}/statistics/timeline?timeframe=60m&metrics=opens,clicks,delivered`);
  expect(timeline.body).toMatchObject({ timeframe: "60m", interval_seconds: 300 });
  expect(timeline.body.series.map((s: any) => [s.metric, s.points.length, s.points[0].count])).toEqual([
    ["opens", 12, 3],
    ["clicks", 12, 1],
    ["delivered", 12, 4],
  ]);
  expect((await req("GET", `/broadcasts/${b.id}/statistics/timeline?timeframe=5y`)).status).toBe(422);
  expect((await req("GET", `/broadcasts/${b.id}/statistics/timeline?metrics=opens,likes`)).status).toBe(422);
  const linkStats = await req("GET", `/broadcasts/${b.id}/statistics/links`);
  expect(linkStats.body).toEqual({ links: [{ url: "https://ex.com/a?x=1&y=2", clicks: 1, unique_clicks: 1 }] });
}, 30_000);

test("unsubscribe: GET shows a button and changes nothing; one-click POST answers text/plain and unsubscribes once", async () => {
  const { b, mails } = await delivered(2, { track_opens: false, track_clicks: false });
  const mail = mails.find((m) => m.envelope.to[0] === "sub0@example.com")!;
  expect(mail.parsed.html).not.toContain("/t/o/");
  const url = local(mail.header("List-Unsubscribe")!.slice(1, -1));

  const pageRes = await fetch(url);
  expect(pageRes.status).toBe(200);
  expect(await pageRes.text()).toContain("<button");
  expect(t.server.sql("SELECT unsubscribed_at FROM subscribers WHERE email = 'sub0@example.com'")[0].unsubscribed_at).toBeNull();

  const oneClick = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
  expect(oneClick.status).toBe(200);
  expect(oneClick.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  expect(await oneClick.text()).toBe("Unsubscribed");
  expect(t.server.sql("SELECT is_active, unsubscribed_at FROM subscribers WHERE email = 'sub0@example.com'")[0].unsubscribed_at).not.toBeNull();
  // Idempotent: a second POST (a browser form this time) answers HTML and emits nothing new.
  const again = await fetch(url, { method: "POST" });
  expect(again.headers.get("content-type")).toContain("text/html");
  expect(t.server.sql("SELECT count(*) AS n FROM events WHERE type = 'subscriber.unsubscribed' AND broadcast_id = ?", b.id)[0].n).toBe(1);
  expect((await req("GET", `/broadcasts/${b.id}/statistics`)).body.issues.unsubscribes).toEqual({ count: 1, rate: 50 });

  const forged = await fetch(url.replace(/\.[\w-]+$/, ".AAAAAAAAAAAAAAAAAAAAAA"), { method: "POST", body: "List-Unsubscribe=One-Click" });
  expect(forged.status).toBe(404);
  expect(t.server.sql("SELECT count(*) AS n FROM subscribers WHERE unsubscribed_at IS NOT NULL")[0].n).toBe(1);
});

test("a transactional's List-Unsubscribe link unsubscribes the channel's subscriber with that address", async () => {
  await t.subscribers(0, 1);
  const sent = await t.send({ to: "SUB0@example.com", include_unsubscribe_link: true });
  expect(t.server.sql("SELECT subscriber_id FROM messages WHERE id = ?", sent.id)[0].subscriber_id).not.toBeNull();
  // A message sent before the address became a subscriber names none in its link.
  const before = await t.send({ to: "late@example.com", include_unsubscribe_link: true });
  await t.drain();
  const mails = await sink.waitFor(2);
  const mail = mails.find((m) => m.envelope.to[0] === "SUB0@example.com");
  const lateMail = mails.find((m) => m.envelope.to[0] === "late@example.com");
  const url = (m: SinkMessage) => local(m.header("List-Unsubscribe")!.slice(1, -1));
  expect((await fetch(url(lateMail!), { method: "POST", body: "List-Unsubscribe=One-Click" })).status).toBe(404);
  await req("POST", "/subscribers", { channel: "default", email: "late@example.com" });
  expect((await fetch(url(lateMail!), { method: "POST", body: "List-Unsubscribe=One-Click" })).status).toBe(200);
  expect((await fetch(url(mail!), { method: "POST", body: "List-Unsubscribe=One-Click" })).status).toBe(200);
  expect(t.server.sql("SELECT email FROM subscribers WHERE unsubscribed_at IS NOT NULL ORDER BY email").map((r) => r.email)).toEqual(["late@example.com", "sub0@example.com"]);
  expect(before.id).toBeGreaterThan(sent.id);
});

test("a transactional with track_opens and track_clicks gets the pixel and signed links of its own body; without them, neither", async () => {
  const tracked = await t.send({ to: "ada@example.com", subject: "Receipt", body: BODY, track_opens: true, track_clicks: true });
  const plain = await t.send({ to: "bo@example.com", subject: "Receipt", body: BODY });
  await t.drain();
  const mails = await sink.waitFor(2);
  const mail = mails.find((m) => m.envelope.to[0] === "ada@example.com")!;
  const untracked = mails.find((m) => m.envelope.to[0] === "bo@example.com")!;
  expect(untracked.parsed.html).not.toContain("/t/o/");
  expect(hrefs(untracked)).toContain("https://ex.com/a?x=1&y=2");

  const links = hrefs(mail).filter((h) => h.includes("/t/c/"));
  expect(links.length).toBe(1);
  expect(hrefs(mail)).toContain("https://ex.com/b");
  expect(mail.parsed.text).toContain("https://ex.com/a?x=1&y=2");
  expect((await fetch(local(pixel(mail)))).status).toBe(200);
  const click = await fetch(local(links[0]!), { redirect: "manual" });
  expect(click.status).toBe(302);
  expect(click.headers.get("location")).toBe("https://ex.com/a?x=1&y=2");

  expect(t.server.sql("SELECT opened_at IS NOT NULL AS opened, clicked_at IS NOT NULL AS clicked FROM messages WHERE id = ?", tracked.id)[0]).toEqual({ opened: 1, clicked: 1 });
  const events = t.server.sql("SELECT type, transactional_id FROM events WHERE type IN ('email.opened', 'email.clicked') ORDER BY id");
  expect(events).toEqual([
    { type: "email.opened", transactional_id: tracked.id },
    { type: "email.clicked", transactional_id: tracked.id },
  ]);
  expect(plain.id).not.toBe(tracked.id);
});
