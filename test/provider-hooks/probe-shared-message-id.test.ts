/**
 * Probe: SMTP submission keeps the client's Message-ID, so two channels can send mail with the same
 * one to the same address. A provider event names the message by that header only; the lookup took
 * the first such message of any channel, and when it was the other channel's, the event was
 * ignored: a tenant who sends first with another's Message-ID made that tenant's bounces vanish.
 */
import { expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { createTestChannel, createTestToken } from "../fixtures";
import { submissionClient } from "../smtp/helpers";
import { eachProviderServer, type HookTest } from "./helpers";

const KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
let t: HookTest;
eachProviderServer("mailgun", "mailgun", () => ({ webhook_signing_key: KEY }), (test) => (t = test));

function failed(messageId: string, recipient: string) {
  const timestamp = String(Math.floor(t.clock.now() / 1000));
  const token = randomBytes(25).toString("hex");
  const signature = { timestamp, token, signature: createHmac("sha256", KEY).update(timestamp + token).digest("hex") };
  const data = { id: randomBytes(8).toString("hex"), event: "failed", severity: "permanent", recipient, message: { headers: { "message-id": messageId } } };
  return JSON.stringify({ signature, "event-data": data });
}

test("a bounce names the message of this server's channel even when another channel sent the same Message-ID first", async () => {
  const messageId = "<order-1001@shop.example>";
  createTestChannel(t.server.deps, "Marketing", { sender_email: "news@example.com" });
  const marketing = createTestToken(t.server.deps, { channels: ["marketing"], permissions: ["transactionals_write"] });
  const mail = { to: "ada@example.org", subject: "Order", text: "Thanks", messageId };
  const defaultSender = t.server.sql("SELECT sender_email FROM channels WHERE slug = 'default'")[0].sender_email;
  await submissionClient(t.server, "apikey", marketing).sendMail({ ...mail, from: "news@example.com" });
  await submissionClient(t.server, "apikey", t.server.defaultToken).sendMail({ ...mail, from: defaultSender });
  const rows = t.server.sql("SELECT m.id, c.slug FROM messages m JOIN channels c ON c.id = m.channel_id WHERE m.message_id = ? ORDER BY m.id", messageId);
  expect(rows.map((r) => r.slug)).toEqual(["marketing", "default"]);
  while (await t.tick());
  const own = rows[1].id;
  expect(t.row(own).sent_at).not.toBeNull();

  expect(await t.post(failed(messageId, "ada@example.org"))).toEqual({ status: 200, body: { received: 1, applied: 1, replayed: 0 } });
  expect(t.row(own).status).toBe("bounced");
  expect(t.row(rows[0].id).status).not.toBe("bounced");
  expect(t.server.sql("SELECT c.slug FROM suppressions s JOIN channels c ON c.id = s.channel_id WHERE s.email = 'ada@example.org'")).toEqual([{ slug: "default" }]);
});
