/**
 * classifyMessage on report shapes the SMTP tests do not cover: UTF-8 DSNs (RFC 6533), a
 * base64-encoded report part, several recipient blocks, success notices, `not-spam` feedback,
 * a DSN without a status, and mail that is no report at all.
 */
import { expect, test } from "bun:test";
import { classifyMessage, TooManyParts } from "@/features/bounces/classify";

const report = (type: string, partType: string, body: string, encoding = "7bit") =>
  Buffer.from(
    [
      "From: MAILER-DAEMON@mx.example.org",
      "Subject: report",
      "MIME-Version: 1.0",
      `Content-Type: multipart/report; report-type=${type}; boundary="R"`,
      "",
      "--R",
      "Content-Type: text/plain",
      "",
      "human text",
      "--R",
      `Content-Type: ${partType}`,
      `Content-Transfer-Encoding: ${encoding}`,
      "",
      encoding === "base64" ? Buffer.from(body).toString("base64") : body,
      "--R--",
      "",
    ].join("\r\n"),
  );

test("a UTF-8 DSN (message/global-delivery-status) with an internationalised address", async () => {
  const c = await classifyMessage(report("global-delivery-status", "message/global-delivery-status", "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: utf-8; jörg@example.de\r\nAction: failed\r\nStatus: 5.1.1"));
  expect(c).toMatchObject({ classification: "hard_bounce", recipients: ["jörg@example.de"], diagnostic: "5.1.1" });
});

test("a base64-encoded report part is decoded", async () => {
  const c = await classifyMessage(report("delivery-status", "message/delivery-status", "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: delayed\r\nStatus: 4.4.7\r\nDiagnostic-Code: smtp; 421 try later", "base64"));
  expect(c).toMatchObject({ classification: "soft_bounce", recipients: ["a@example.org"], diagnostic: "4.4.7 smtp; 421 try later" });
});

test("several recipient blocks: the failed one decides; success notices and a failure without status", async () => {
  const mixed = await classifyMessage(report("delivery-status", "message/delivery-status", "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; ok@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.2.1"));
  expect(mixed).toMatchObject({ classification: "hard_bounce", recipients: ["gone@example.org"] });
  const delivered = await classifyMessage(report("delivery-status", "message/delivery-status", "Final-Recipient: rfc822; ok@example.org\r\nAction: relayed\r\nStatus: 2.0.0"));
  expect(delivered.classification).toBe("unclassified");
  const noStatus = await classifyMessage(report("delivery-status", "message/delivery-status", "Final-Recipient: rfc822; x@example.org\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 mailbox unavailable"));
  expect(noStatus.classification).toBe("hard_bounce");
  const empty = await classifyMessage(report("delivery-status", "message/delivery-status", "Reporting-MTA: dns; mx"));
  expect(empty).toMatchObject({ classification: "unclassified", diagnostic: "delivery-status without a recipient" });
});

test("feedback reports: abuse is a complaint, not-spam or no type is not", async () => {
  const arf = (type: string) => report("feedback-report", "message/feedback-report", `${type}User-Agent: x/1\r\nVersion: 1\r\nOriginal-Rcpt-To: <a@example.org>`);
  expect(await classifyMessage(arf("Feedback-Type: abuse\r\n"))).toMatchObject({ classification: "complaint", recipients: ["a@example.org"], diagnostic: "feedback-type abuse" });
  expect((await classifyMessage(arf("Feedback-Type: not-spam\r\n"))).classification).toBe("unclassified");
  expect((await classifyMessage(arf(""))).classification).toBe("unclassified");
});

test("plain mail is unclassified; a reply with Auto-Submitted: no is not an auto-reply; bombs throw", async () => {
  const plain = Buffer.from("From: a@example.org\r\nSubject: hello\r\nAuto-Submitted: no\r\n\r\nhi\r\n");
  expect(await classifyMessage(plain)).toMatchObject({ classification: "unclassified", from: "a@example.org", subject: "hello" });
  expect(await classifyMessage(Buffer.from("Subject: Automatic reply: hello\r\n\r\naway\r\n"))).toMatchObject({ classification: "auto_reply" });
  await expect(classifyMessage(Buffer.from("\r\n--b\r\n".repeat(201)))).rejects.toBeInstanceOf(TooManyParts);
});
