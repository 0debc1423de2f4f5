/** SendGrid's Signed Event Webhook (ECDSA P-256 key pair made here) posted to a real server: verified, applied once, refused when forged or stale. */
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { eachProviderServer, expectNothingRecorded, type HookTest } from "./helpers";

const pair = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const keys = pair();
const verificationKey = keys.publicKey.export({ format: "der", type: "spki" }).toString("base64");
let t: HookTest;
eachProviderServer("sendgrid", "sendgrid", () => ({ webhook_public_key: verificationKey }), (test) => (t = test));

/** The body and signature headers SendGrid sends for `events`, signed at `at` (ms) with `privateKey`. */
function signed(events: unknown[], at = t.clock.now(), privateKey = keys.privateKey) {
  const body = JSON.stringify(events);
  const timestamp = String(Math.floor(at / 1000));
  const signature = sign("sha256", Buffer.from(timestamp + body), privateKey).toString("base64");
  return { body, headers: { "x-twilio-email-event-webhook-signature": signature, "x-twilio-email-event-webhook-timestamp": timestamp } };
}
const post = (s: ReturnType<typeof signed>) => t.post(s.body, s.headers);

const event = (email: string, smtpId: string, fields: Record<string, unknown>) => ({
  email,
  timestamp: Math.floor(t.clock.now() / 1000),
  "smtp-id": smtpId,
  sg_event_id: `sg-${fields.event}-${email}`,
  sg_message_id: "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
  ...fields,
});

describe("happy", () => {
  test("a batch: bounce → hard (suppressed), blocked → soft, spamreport → complaint, delivered and opens skipped; a replay changes nothing", async () => {
    const gone = await t.delivered("gone@example.com");
    const blocked = await t.delivered("blocked@example.com");
    const angry = await t.delivered("angry@example.com");
    const batch = signed([
      event("gone@example.com", gone.message_id, { event: "bounce", type: "bounce", status: "5.1.1", reason: "550 5.1.1 The email account does not exist" }),
      event("blocked@example.com", blocked.message_id, { event: "bounce", type: "blocked", status: "4.0.0", reason: "421 rate limited" }),
      event("angry@example.com", angry.message_id, { event: "spamreport" }),
      event("angry@example.com", angry.message_id, { event: "delivered" }),
      event("angry@example.com", angry.message_id, { event: "open" }),
    ]);
    expect(await post(batch)).toEqual({ status: 200, body: { received: 3, applied: 3, replayed: 0 } });
    expect(t.suppression("gone@example.com")).toEqual({ reason: "hard_bounce", source: "delivery" });
    expect(t.suppression("blocked@example.com")).toBeUndefined();
    expect(t.suppression("angry@example.com")).toEqual({ reason: "complaint", source: "delivery" });
    expect(await t.feed("email.bounced")).toEqual([expect.objectContaining({ recipient_email: "gone@example.com", bounce_type: "hard", smtp_response: "5.1.1 550 5.1.1 The email account does not exist" })]);
    expect(await t.feed("email.soft_bounced")).toEqual([expect.objectContaining({ recipient_email: "blocked@example.com" })]);
    expect(await t.feed("email.complained")).toEqual([expect.objectContaining({ recipient_email: "angry@example.com" })]);
    expect(t.seenEvents()).toBe(3);
    // Replayed (same sg_event_ids, freshly signed): nothing new.
    expect(await post(signed(JSON.parse(batch.body)))).toEqual({ status: 200, body: { received: 3, applied: 0, replayed: 3 } });
    expect(await t.feed("email.bounced")).toHaveLength(1);
  });

  test("a dropped event for an address SendGrid refuses is a hard bounce; an unknown smtp-id changes nothing", async () => {
    const m = await t.delivered("invalid@example.com");
    await t.delivered("kept@example.com");
    const batch = signed([
      event("invalid@example.com", m.message_id, { event: "dropped", reason: "Bounced Address" }),
      event("kept@example.com", "<not.ours@example.com>", { event: "bounce", type: "bounce" }),
    ]);
    expect(await post(batch)).toEqual({ status: 200, body: { received: 2, applied: 1, replayed: 0 } });
    expect(t.suppression("invalid@example.com")).toEqual({ reason: "hard_bounce", source: "delivery" });
    expect(t.suppression("kept@example.com")).toBeUndefined();
  });
});

describe("errors", () => {
  test("no signature, a tampered body, another key, a stale timestamp → 401 and nothing recorded", async () => {
    const m = await t.delivered("gone@example.com");
    const events = [event("gone@example.com", m.message_id, { event: "bounce", type: "bounce" })];
    const good = signed(events);
    const refused = [
      { body: good.body, headers: {} },
      { body: good.body.replace("gone@", "else@"), headers: good.headers },
      { body: good.body, headers: { ...good.headers, "x-twilio-email-event-webhook-signature": "not base64 at all" } },
      // The signature covers the timestamp: another one with the same signature fails.
      { body: good.body, headers: { ...good.headers, "x-twilio-email-event-webhook-timestamp": String(Number(good.headers["x-twilio-email-event-webhook-timestamp"]) + 1) } },
      signed(events, t.clock.now(), pair().privateKey),
      signed(events, t.clock.now() - 6 * 60_000),
    ];
    for (const r of refused) expect(await t.post(r.body, r.headers)).toEqual({ status: 401, body: { error: "Invalid signature" } });
    await expectNothingRecorded(t, "gone@example.com");
  });

  test("a signed body that is not an array of events → 400", async () => {
    for (const body of ["{}", "[1"]) {
      const timestamp = String(Math.floor(t.clock.now() / 1000));
      const signature = sign("sha256", Buffer.from(timestamp + body), keys.privateKey).toString("base64");
      const res = await t.post(body, { "x-twilio-email-event-webhook-signature": signature, "x-twilio-email-event-webhook-timestamp": timestamp });
      expect(res).toMatchObject({ status: 400, body: { error: "Invalid payload" } });
    }
  });
});
