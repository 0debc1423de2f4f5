/** Mailgun webhooks (HMAC-SHA256 signing key) posted to a real server: verified, applied once, refused when forged or stale. */
import { describe, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { createTestChannel } from "../fixtures";
import { eachProviderServer, expectNothingRecorded, type HookTest } from "./helpers";

const SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
let t: HookTest;
eachProviderServer("mailgun", "mailgun", () => ({ webhook_signing_key: SIGNING_KEY }), (test) => (t = test));

/** A Mailgun webhook body, signed with `key` at `at` (ms). */
function signed(eventData: Record<string, unknown>, at = t.clock.now(), key = SIGNING_KEY) {
  const timestamp = String(Math.floor(at / 1000));
  const token = randomBytes(25).toString("hex");
  const signature = createHmac("sha256", key).update(timestamp + token).digest("hex");
  return JSON.stringify({ signature: { timestamp, token, signature }, "event-data": eventData });
}

const failed = (messageId: string, recipient: string, severity = "permanent", id = "CPgfbmQMTCKtHW6uIWtuVe") => ({
  id,
  event: "failed",
  severity,
  reason: "bounce",
  timestamp: t.clock.now() / 1000,
  recipient,
  message: { headers: { "message-id": messageId.replace(/^<|>$/g, ""), to: recipient } },
  "delivery-status": { code: 550, message: "5.1.1 The email account that you tried to reach does not exist", description: "" },
});

describe("happy", () => {
  test("a permanent failure suppresses the address; email.bounced appears in the feed; a replay is ignored", async () => {
    const m = await t.delivered("gone@example.com");
    const body = signed(failed(m.message_id, "gone@example.com"));
    expect(await t.post(body)).toEqual({ status: 200, body: { received: 1, applied: 1, replayed: 0 } });
    expect(t.suppression("gone@example.com")).toEqual({ reason: "hard_bounce", source: "delivery" });
    expect(t.row(m.id).status).toBe("bounced");
    expect(await t.feed("email.bounced")).toEqual([expect.objectContaining({ recipient_email: "gone@example.com", bounce_type: "hard", smtp_response: expect.stringContaining("550 5.1.1") })]);
    // The same event again (a retry or a replay): nothing new.
    expect(await t.post(body)).toEqual({ status: 200, body: { received: 1, applied: 0, replayed: 1 } });
    expect(await t.feed("email.bounced")).toHaveLength(1);
  });

  test("a temporary failure is a soft bounce (no suppression); a complaint suppresses with email.complained", async () => {
    const soft = await t.delivered("full@example.com");
    expect((await t.post(signed(failed(soft.message_id, "full@example.com", "temporary", "soft-1")))).body.applied).toBe(1);
    expect(t.suppression("full@example.com")).toBeUndefined();
    expect(await t.feed("email.soft_bounced")).toHaveLength(1);

    const m = await t.delivered("angry@example.com");
    const complained = { id: "complaint-1", event: "complained", timestamp: t.clock.now() / 1000, recipient: "angry@example.com", message: { headers: { "message-id": m.message_id } } };
    expect((await t.post(signed(complained))).body.applied).toBe(1);
    expect(t.suppression("angry@example.com")).toEqual({ reason: "complaint", source: "delivery" });
    expect(await t.feed("email.complained")).toEqual([expect.objectContaining({ recipient_email: "angry@example.com" })]);
  });

  test("an event about a message Mailroom did not send, or of another kind, is accepted and changes nothing", async () => {
    await t.delivered("kept@example.com");
    expect(await t.post(signed(failed("<unknown.1@example.com>", "kept@example.com")))).toEqual({ status: 200, body: { received: 1, applied: 0, replayed: 0 } });
    expect(await t.post(signed({ id: "d-1", event: "delivered", recipient: "kept@example.com" }))).toEqual({ status: 200, body: { received: 0, applied: 0, replayed: 0 } });
    expect(t.suppression("kept@example.com")).toBeUndefined();
  });

  test("an event about another channel's message (same Message-ID lookup) changes nothing", async () => {
    createTestChannel(t.server.deps, "Marketing", { sender_email: "news@example.com" });
    const sent = await t.server.request("POST", "/api/v1/transactionals", { body: { channel: "marketing", to: "other@example.com", subject: "Hi", body: "<p>Hi</p>" } });
    expect(sent.status).toBe(201);
    await t.tick();
    const other = t.row(sent.body.id);
    expect(other.sent_at).not.toBeNull();
    expect(await t.post(signed(failed(other.message_id, "other@example.com")))).toEqual({ status: 200, body: { received: 1, applied: 0, replayed: 0 } });
    expect(t.suppression("other@example.com")).toBeUndefined();
    expect(t.row(other.id).status).toBe("sent");
  });
});

describe("errors", () => {
  test("unsigned, mis-signed, another key, a stale or future timestamp → 401 and nothing recorded", async () => {
    const m = await t.delivered("gone@example.com");
    const event = failed(m.message_id, "gone@example.com");
    const good = JSON.parse(signed(event));
    const forged = [
      JSON.stringify({ "event-data": event }),
      JSON.stringify({ ...good, signature: { ...good.signature, signature: "0".repeat(64) } }),
      JSON.stringify({ ...good, "event-data": { ...event }, signature: { ...good.signature, token: "another-token" } }),
      signed(event, t.clock.now(), "key-of-someone-else"),
      signed(event, t.clock.now() - 6 * 60_000),
      signed(event, t.clock.now() + 6 * 60_000),
    ];
    for (const body of forged) expect(await t.post(body)).toEqual({ status: 401, body: { error: "Invalid signature" } });
    await expectNothingRecorded(t, "gone@example.com");
  });

  test("bad JSON and unknown shapes → 400; unknown server, wrong provider or a non-numeric id → 404", async () => {
    expect((await t.post("{not json")).status).toBe(400);
    expect(await t.post(signed({ no: "event" }))).toMatchObject({ status: 400, body: { error: "Invalid payload" } });
    const base = new URL(t.hookUrl);
    for (const path of [`/hooks/providers/999999/mailgun`, `/hooks/providers/${t.emailServerId}/sendgrid`, `/hooks/providers/${t.emailServerId}/other`, `/hooks/providers/abc/mailgun`]) {
      expect(await t.post(signed(failed("<x@y>", "a@b.c")), {}, new URL(path, base).href)).toEqual({ status: 404, body: { error: "Not Found" } });
    }
    expect(t.seenEvents()).toBe(0);
  });
});
