/**
 * Amazon SES notifications through SNS, posted to a real server. The SNS edge is replaced the way
 * the server allows it (deps.snsEdge): a self-signed certificate made here (openssl), served by a
 * local HTTPS server on localhost; each message is signed with its key exactly as SNS signs.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sign } from "node:crypto";
import { selfSignedCert } from "../smtp-sink";
import { eachProviderServer, expectNothingRecorded, type HookTest } from "./helpers";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events";
const { key, cert } = selfSignedCert();
let t: HookTest;
eachProviderServer("ses", "aws_ses", () => ({ sns_topic_arn: TOPIC }), (test) => (t = test));

/** A stand-in for sns.<region>.amazonaws.com: the signing certificate and the subscription confirmation URL. */
let aws: ReturnType<typeof Bun.serve>;
let requests: string[];
beforeEach(() => {
  requests = [];
  aws = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { key, cert },
    fetch(req) {
      const url = new URL(req.url);
      requests.push(url.pathname + url.search);
      if (url.pathname === "/SimpleNotificationService-test.pem") return new Response(cert);
      if (url.pathname === "/confirm") return new Response("<ConfirmSubscriptionResponse/>");
      return new Response("not found", { status: 404 });
    },
  });
  t.server.deps.snsEdge = { certHost: /^localhost$/, fetch: (url, init) => fetch(url, { ...init, tls: { ca: cert } } as RequestInit) };
});
afterEach(() => aws.stop(true));

const certUrl = () => `https://localhost:${aws.port}/SimpleNotificationService-test.pem`;
const SIGNED = {
  Notification: ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
  SubscriptionConfirmation: ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
} as const;

/** An SNS message of `type` with `fields`, signed (SignatureVersion 1 = SHA1, 2 = SHA256) as SNS signs it. */
function snsMessage(type: keyof typeof SIGNED, fields: Record<string, string>, version: "1" | "2" = "2") {
  const m: Record<string, string> = { Type: type, MessageId: crypto.randomUUID(), TopicArn: TOPIC, Timestamp: new Date(t.clock.now()).toISOString(), ...fields };
  const canonical = SIGNED[type].filter((k) => k in m).map((k) => `${k}\n${m[k]}\n`).join("");
  const signature = sign(version === "1" ? "sha1" : "sha256", Buffer.from(canonical), key).toString("base64");
  return { ...m, SignatureVersion: version, Signature: signature, SigningCertURL: fields.SigningCertURL ?? certUrl() };
}

/** SES's Bounce or Complaint notification about a message we sent (its Message-ID as SES reports it). */
function notification(messageId: string, body: Record<string, unknown>, mail: Record<string, unknown> = {}) {
  const sesMail = { messageId: "0100018c-ses-own-id", source: "news@example.com", commonHeaders: { messageId, subject: "Receipt" }, headers: [{ name: "Message-ID", value: messageId }], ...mail };
  return JSON.stringify({ ...body, mail: sesMail });
}
const permanent = (...recipients: string[]) => ({
  notificationType: "Bounce",
  bounce: { bounceType: "Permanent", bounceSubType: "General", timestamp: new Date(t.clock.now()).toISOString(), feedbackId: "fb-1", bouncedRecipients: recipients.map((emailAddress) => ({ emailAddress, action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" })) },
});
const post = (message: object) => t.post(JSON.stringify(message), { "content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": (message as any).Type });

describe("happy", () => {
  test("a Permanent bounce (SignatureVersion 2) suppresses; the same SNS message again is ignored; the certificate is fetched once", async () => {
    const m = await t.delivered("gone@example.com");
    const message = snsMessage("Notification", { Message: notification(m.message_id, permanent("gone@example.com")) });
    expect(await post(message)).toEqual({ status: 200, body: { received: 1, applied: 1, replayed: 0 } });
    expect(t.suppression("gone@example.com")).toEqual({ reason: "hard_bounce", source: "delivery" });
    expect(await t.feed("email.bounced")).toEqual([expect.objectContaining({ recipient_email: "gone@example.com", bounce_type: "hard", smtp_response: "5.1.1 smtp; 550 5.1.1 user unknown" })]);
    expect(await post(message)).toEqual({ status: 200, body: { received: 1, applied: 0, replayed: 1 } });
    expect(requests).toEqual(["/SimpleNotificationService-test.pem"]);
  });

  test("SignatureVersion 1 (SHA1): a Transient bounce is soft; a complaint suppresses with email.complained", async () => {
    const soft = await t.delivered("full@example.com");
    const transient = { notificationType: "Bounce", bounce: { bounceType: "Transient", bounceSubType: "MailboxFull", bouncedRecipients: [{ emailAddress: "full@example.com" }] } };
    expect((await post(snsMessage("Notification", { Message: notification(soft.message_id, transient), Subject: "Amazon SES Email Event Notification" }, "1"))).body.applied).toBe(1);
    expect(t.suppression("full@example.com")).toBeUndefined();
    expect(await t.feed("email.soft_bounced")).toHaveLength(1);

    const m = await t.delivered("angry@example.com");
    const complaint = { notificationType: "Complaint", complaint: { complainedRecipients: [{ emailAddress: "angry@example.com" }], complaintFeedbackType: "abuse", timestamp: new Date(t.clock.now()).toISOString() } };
    expect((await post(snsMessage("Notification", { Message: notification(m.message_id, complaint) }, "1"))).body.applied).toBe(1);
    expect(t.suppression("angry@example.com")).toEqual({ reason: "complaint", source: "delivery" });
    expect(await t.feed("email.complained")).toEqual([expect.objectContaining({ recipient_email: "angry@example.com" })]);
  });

  test("a SubscriptionConfirmation is confirmed by a GET of its SubscribeURL", async () => {
    const subscribeUrl = `https://localhost:${aws.port}/confirm?Action=ConfirmSubscription&Token=tok-1`;
    const res = await post(snsMessage("SubscriptionConfirmation", { Message: "You have chosen to subscribe…", SubscribeURL: subscribeUrl, Token: "tok-1" }));
    expect(res).toEqual({ status: 200, body: { confirmed: true } });
    expect(requests).toContain("/confirm?Action=ConfirmSubscription&Token=tok-1");
  });

  test("the Message-ID is read from the original headers (whatever commonHeaders says), else from commonHeaders", async () => {
    const a = await t.delivered("a@example.com");
    const b = await t.delivered("b@example.com");
    const rewritten = { commonHeaders: { messageId: "<0100018c-ses-own-id@email.amazonses.com>" } };
    expect((await post(snsMessage("Notification", { Message: notification(a.message_id, permanent("a@example.com"), rewritten) }))).body.applied).toBe(1);
    const truncated = { headersTruncated: true, headers: [] };
    expect((await post(snsMessage("Notification", { Message: notification(b.message_id, permanent("b@example.com"), truncated) }))).body.applied).toBe(1);
    expect([t.row(a.id).status, t.row(b.id).status]).toEqual(["bounced", "bounced"]);
  });

  test("a bounce naming a recipient or a Message-ID Mailroom did not mail changes nothing", async () => {
    const m = await t.delivered("kept@example.com");
    expect((await post(snsMessage("Notification", { Message: notification(m.message_id, permanent("other@example.com")) }))).body).toEqual({ received: 1, applied: 0, replayed: 0 });
    expect((await post(snsMessage("Notification", { Message: notification("<nope@example.com>", permanent("kept@example.com")) }))).body).toEqual({ received: 1, applied: 0, replayed: 0 });
    expect(t.suppression("kept@example.com")).toBeUndefined();
    expect(t.suppression("other@example.com")).toBeUndefined();
  });
});

describe("errors", () => {
  test("tampered, unsigned, a certificate off the SNS host or over http, a stale message → 401; another topic → 403; nothing recorded", async () => {
    const m = await t.delivered("gone@example.com");
    const Message = notification(m.message_id, permanent("gone@example.com"));
    const good = snsMessage("Notification", { Message });
    const refused = [
      { ...good, Message: Message.replace("Permanent", "Transient") },
      { ...good, Signature: undefined },
      { ...good, SignatureVersion: "3" },
      snsMessage("Notification", { Message, SigningCertURL: `https://127.0.0.1:${aws.port}/SimpleNotificationService-test.pem` }),
      snsMessage("Notification", { Message, SigningCertURL: `http://localhost:${aws.port}/SimpleNotificationService-test.pem` }),
      snsMessage("Notification", { Message, Timestamp: new Date(t.clock.now() - 2 * 3600_000).toISOString() }),
    ];
    for (const message of refused) expect(await post(message)).toEqual({ status: 401, body: { error: "Invalid signature" } });
    const otherTopic = snsMessage("Notification", { Message, TopicArn: "arn:aws:sns:eu-west-1:999999999999:someone-else" });
    expect(await post(otherTopic)).toMatchObject({ status: 403, body: { error: "Forbidden" } });
    await expectNothingRecorded(t, "gone@example.com");
  });

  test("a SubscribeURL off the SNS host is not fetched; a verified Message that is not JSON → 400", async () => {
    const res = await post(snsMessage("SubscriptionConfirmation", { Message: "x", SubscribeURL: `https://127.0.0.1:${aws.port}/confirm?Token=evil`, Token: "evil" }));
    expect(res.status).toBe(401);
    expect(requests.filter((r) => r.startsWith("/confirm"))).toEqual([]);
    expect(await post(snsMessage("Notification", { Message: "not json" }))).toMatchObject({ status: 400, body: { error: "Invalid payload" } });
    expect((await t.post("{broken")).status).toBe(400);
  });
});
