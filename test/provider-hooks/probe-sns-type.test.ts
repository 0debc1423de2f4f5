/**
 * Probe: the SNS `Type` of an unsigned post is checked against the signed message types before the
 * canonical string is built. Names Object.prototype has (`constructor`, `__proto__`, `toString`)
 * were taken for message types: building the canonical string threw a TypeError, a 500 to anyone.
 */
import { expect, test } from "bun:test";
import { eachProviderServer, expectNothingRecorded, type HookTest } from "./helpers";

let t: HookTest;
eachProviderServer("ses", "aws_ses", () => ({ sns_topic_arn: "arn:aws:sns:eu-west-1:123456789012:ses-events" }), (test) => (t = test));

test.each(["constructor", "__proto__", "toString", "hasOwnProperty"])("an SNS post of Type %s is 401 Invalid signature, nothing recorded", async (type) => {
  const body = { Type: type, MessageId: "m-1", TopicArn: "arn:aws:sns:eu-west-1:123456789012:ses-events", Message: "{}", Timestamp: new Date(t.clock.now()).toISOString(), SignatureVersion: "2", Signature: "AAAA", SigningCertURL: "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem" };
  const res = await t.post(JSON.stringify(body), { "content-type": "text/plain; charset=UTF-8" });
  expect(res).toEqual({ status: 401, body: { error: "Invalid signature" } });
  await expectNothingRecorded(t, "anyone@example.org");
});
