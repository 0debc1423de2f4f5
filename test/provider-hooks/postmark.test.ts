/**
 * Postmark bounce and spam complaint webhooks (Basic credentials) posted to a real server. Postmark
 * names messages by its own id, so the test reads the metadata header the relay received (what
 * Postmark would echo back as `Metadata`).
 */
import { describe, expect, test } from "bun:test";
import { eachProviderServer, expectNothingRecorded, type HookTest } from "./helpers";

const USER = "mailroom-hooks";
const PASSWORD = "correct horse battery staple";
let t: HookTest;
eachProviderServer("postmark", "postmark", () => ({ webhook_username: USER, webhook_password: PASSWORD }), (test) => (t = test));

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
const AUTH = basic(USER, PASSWORD);

/** A Postmark Bounce (or SpamComplaint) record about a delivered message, as its webhook posts it. */
async function recordFor(email: string, fields: Record<string, unknown>) {
  const m = await t.delivered(email);
  const metadataId = m.received.header("X-PM-Metadata-mailroom-id");
  expect(metadataId).toBe(String(m.id));
  return {
    RecordType: "Bounce",
    ID: 692560173 + m.id,
    Type: "HardBounce",
    TypeCode: 1,
    MessageID: "883953f4-6105-42a2-a16a-77a8eac79483",
    Email: email,
    BouncedAt: new Date(t.clock.now()).toISOString(),
    Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    Details: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    Metadata: { "mailroom-id": metadataId },
    MessageStream: "outbound",
    ...fields,
  };
}

describe("happy", () => {
  test("HardBounce suppresses; the retried record (same ID) is ignored; SpamComplaint suppresses as a complaint", async () => {
    const hard = await recordFor("gone@example.com", {});
    expect(await t.post(JSON.stringify(hard), AUTH)).toEqual({ status: 200, body: { received: 1, applied: 1, replayed: 0 } });
    expect(t.suppression("gone@example.com")).toEqual({ reason: "hard_bounce", source: "delivery" });
    expect(await t.feed("email.bounced")).toEqual([expect.objectContaining({ recipient_email: "gone@example.com", bounce_type: "hard", smtp_response: expect.stringContaining("550 5.1.1") })]);
    expect(await t.post(JSON.stringify(hard), AUTH)).toEqual({ status: 200, body: { received: 1, applied: 0, replayed: 1 } });

    const spam = await recordFor("angry@example.com", { RecordType: "SpamComplaint", Type: "SpamComplaint", TypeCode: 512 });
    expect((await t.post(JSON.stringify(spam), AUTH)).body.applied).toBe(1);
    expect(t.suppression("angry@example.com")).toEqual({ reason: "complaint", source: "delivery" });
    expect(await t.feed("email.complained")).toEqual([expect.objectContaining({ recipient_email: "angry@example.com" })]);
  });

  test("SoftBounce and Transient are soft (no suppression); other record types and a foreign message id change nothing", async () => {
    const soft = await recordFor("full@example.com", { Type: "SoftBounce", TypeCode: 4096 });
    expect((await t.post(JSON.stringify(soft), AUTH)).body.applied).toBe(1);
    const transient = await recordFor("full@example.com", { Type: "Transient", TypeCode: 2 });
    expect((await t.post(JSON.stringify(transient), AUTH)).body.applied).toBe(1);
    expect(t.suppression("full@example.com")).toBeUndefined();
    expect(await t.feed("email.soft_bounced")).toHaveLength(2);

    const other = await recordFor("kept@example.com", {});
    expect(await t.post(JSON.stringify({ ...other, RecordType: "Delivery" }), AUTH)).toEqual({ status: 200, body: { received: 0, applied: 0, replayed: 0 } });
    expect(await t.post(JSON.stringify({ ...other, Type: "AutoResponder" }), AUTH)).toEqual({ status: 200, body: { received: 0, applied: 0, replayed: 0 } });
    expect(await t.post(JSON.stringify({ ...other, Metadata: { "mailroom-id": "999999" } }), AUTH)).toEqual({ status: 200, body: { received: 1, applied: 0, replayed: 0 } });
    expect(t.suppression("kept@example.com")).toBeUndefined();
  });
});

describe("errors", () => {
  test("no credentials, a wrong password or user → 401 and nothing recorded; bad JSON → 400", async () => {
    const hard = JSON.stringify(await recordFor("gone@example.com", {}));
    for (const headers of [{}, basic(USER, "wrong"), basic("someone", PASSWORD), { authorization: `Bearer ${PASSWORD}` }]) {
      expect(await t.post(hard, headers)).toEqual({ status: 401, body: { error: "Invalid signature" } });
    }
    await expectNothingRecorded(t, "gone@example.com");
    expect((await t.post("[]", AUTH)).status).toBe(400);
    expect((await t.post("nope", AUTH)).status).toBe(400);
  });

  test("without a password configured every post is refused", async () => {
    await t.server.request("PATCH", `/api/v1/email_servers/${t.emailServerId}`, { body: { webhook_password: null } });
    const hard = JSON.stringify(await recordFor("gone@example.com", {}));
    expect((await t.post(hard, basic(USER, ""))).status).toBe(401);
    expect((await t.post(hard, basic(USER, PASSWORD))).status).toBe(401);
    await expectNothingRecorded(t, "gone@example.com");
  });
});
