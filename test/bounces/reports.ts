/**
 * Bounce and complaint messages in the shapes real MTAs and feedback loops send, built from their
 * documented formats (RFC 3464 DSNs as Postfix, Exim, Gmail and Microsoft 365 lay them out; RFC 5965
 * feedback reports), and a raw SMTP delivery of one to the inbound listener.
 */
import { SmtpScript } from "../smtp/helpers";

export interface Original {
  /** The envelope sender the message went out with (the VERP return path). */
  returnPath: string;
  to: string;
  messageId: string;
  from?: string;
  subject?: string;
}

const CRLF = (s: string) => s.replace(/\r?\n/g, "\r\n");
const originalHeaders = (o: Original) =>
  `Return-Path: <${o.returnPath}>\nFrom: ${o.from ?? "Mailroom <noreply@example.com>"}\nTo: ${o.to}\nSubject: ${o.subject ?? "Receipt"}\nMessage-ID: ${o.messageId}\nDate: Thu, 15 Jan 2026 10:30:00 +0000\nMIME-Version: 1.0`;

function report(type: "delivery-status" | "feedback-report", headers: string, human: string, machine: string, original: string, originalType = "message/rfc822"): string {
  return CRLF(`${headers}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=${type};
\tboundary="=_report_1"

This is a MIME-encapsulated message.

--=_report_1
Content-Type: text/plain; charset=us-ascii

${human}

--=_report_1
Content-Type: message/${type}

${machine}

--=_report_1
Content-Type: ${originalType}

${original}
--=_report_1--
`);
}

export type MtaShape = "postfix" | "exim" | "gmail" | "microsoft";

/** A DSN for `o` from the given MTA: `status` 5.x.x with Action failed, or 4.x.x with Action delayed. */
export function dsn(shape: MtaShape, o: Original, status = "5.1.1"): string {
  const failed = status.startsWith("5");
  const action = failed ? "failed" : "delayed";
  const full = `${originalHeaders(o)}\n\n<p>Thanks</p>`;
  switch (shape) {
    case "postfix":
      return report(
        "delivery-status",
        `From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\nTo: ${o.returnPath}\nSubject: ${failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)"}\nAuto-Submitted: auto-replied\nMessage-Id: <20260115103100.ABC@mx.example.org>`,
        `This is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.`,
        `Reporting-MTA: dns; mx.example.org\nX-Postfix-Queue-ID: 4ABCDEF\nX-Postfix-Sender: rfc822; ${o.returnPath}\nArrival-Date: Thu, 15 Jan 2026 10:30:01 +0000\n\nFinal-Recipient: rfc822; ${o.to}\nOriginal-Recipient: rfc822;${o.to}\nAction: ${action}\nStatus: ${status}\nRemote-MTA: dns; in.example.org\nDiagnostic-Code: smtp; ${failed ? "550" : "452"} ${status} <${o.to}>: Recipient address\n    rejected: ${failed ? "User unknown in virtual mailbox table" : "Mailbox full"}`,
        full,
      );
    case "exim":
      return report(
        "delivery-status",
        `From: Mail Delivery System <Mailer-Daemon@mail.example.net>\nTo: ${o.returnPath}\nSubject: Mail delivery failed: returning message to sender\nAuto-Submitted: auto-replied\nX-Failed-Recipients: ${o.to}`,
        `This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  ${o.to}\n    host in.example.net [192.0.2.7]\n    SMTP error from remote mail server after RCPT TO:<${o.to}>:\n    550 5.1.1 No such user`,
        `Reporting-MTA: dns; mail.example.net\n\nAction: ${action}\nFinal-Recipient: rfc822;${o.to}\nStatus: ${status}\nRemote-MTA: dns; in.example.net\nDiagnostic-Code: smtp; 550 ${status} No such user`,
        full,
      );
    case "gmail":
      return report(
        "delivery-status",
        `From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: ${o.returnPath}\nSubject: Delivery Status Notification (Failure)\nAuto-Submitted: auto-replied\nReferences: ${o.messageId}\nIn-Reply-To: ${o.messageId}`,
        `** Address not found **\n\nYour message wasn't delivered to ${o.to} because the address couldn't be found.`,
        `Reporting-MTA: dns; googlemail.com\nReceived-From-MTA: dns; relay.example.com\nArrival-Date: Thu, 15 Jan 2026 02:30:01 -0800 (PST)\nX-Original-Message-ID: ${o.messageId}\n\nFinal-Recipient: rfc822; ${o.to}\nAction: ${action}\nStatus: ${status}\nRemote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.0.27, the server for the\n domain gmail.com.)\nDiagnostic-Code: smtp; 550-${status} The email account that you tried to reach does not exist.\n 550 ${status} https://support.google.com/mail/?p=NoSuchUser\nLast-Attempt-Date: Thu, 15 Jan 2026 02:30:02 -0800 (PST)`,
        full,
      );
    case "microsoft":
      return report(
        "delivery-status",
        `From: postmaster@outlook.com\nTo: ${o.returnPath}\nSubject: Undeliverable: ${o.subject ?? "Receipt"}\nAuto-Submitted: auto-replied\nContent-Language: en-US`,
        `Your message to ${o.to} couldn't be delivered.\n${o.to.split("@")[0]} wasn't found at ${o.to.split("@")[1]}.`,
        `Reporting-MTA: dns;DM6PR01MB0001.namprd01.prod.outlook.com\nReceived-From-MTA: dns;relay.example.com\nArrival-Date: Thu, 15 Jan 2026 10:30:01 +0000\n\nFinal-Recipient: rfc822;${o.to}\nAction: ${action}\nStatus: ${failed ? "5.1.10" : status}\nDiagnostic-Code: smtp;${failed ? "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup" : `452 ${status} mailbox over quota`}`,
        originalHeaders(o),
        "text/rfc822-headers",
      );
  }
}

/** An RFC 5965 abuse report about `o`, as a feedback loop sends it (`redacted`: no recipient named). */
export function arf(o: Original, to: string, redacted = false): string {
  return report(
    "feedback-report",
    `From: Feedback Loop <feedbackloop@fbl.example.org>\nTo: ${to}\nSubject: FW: ${o.subject ?? "Receipt"}\nMessage-ID: <fbl-123@fbl.example.org>`,
    "This is an email abuse report for an email message received from IP 192.0.2.10.",
    `Feedback-Type: abuse\nUser-Agent: ExampleFBL/1.0\nVersion: 1\nOriginal-Mail-From: <${o.returnPath}>\n${redacted ? "" : `Original-Rcpt-To: <${o.to}>\n`}Arrival-Date: Thu, 15 Jan 2026 10:31:00 +0000\nSource-IP: 192.0.2.10\nReported-Domain: example.com`,
    `${originalHeaders(redacted ? { ...o, to: "redacted@fbl.example.org" } : o)}\n\n<p>Thanks</p>`,
  );
}

/** A vacation auto-reply (RFC 3834). */
export const autoReply = (to: string) =>
  CRLF(`From: Ada <ada@example.com>\nTo: ${to}\nSubject: Out of office: Receipt\nAuto-Submitted: auto-replied\nMessage-ID: <vac-1@example.com>\n\nI am away until Monday.\n`);

export interface InboundReplies {
  mail: string;
  rcpt: string;
  /** The reply to the end of DATA (null when RCPT was refused). */
  data: string | null;
}

/** One SMTP transaction to the listener with a null sender (as DSNs come), dot-stuffed. */
export async function deliverInbound(port: number, to: string, raw: string | Buffer, from = ""): Promise<InboundReplies> {
  const s = await SmtpScript.open(port);
  try {
    await s.next();
    await s.send("EHLO mx.example.org");
    const mail = await s.send(`MAIL FROM:<${from}>`);
    const rcpt = await s.send(`RCPT TO:<${to}>`);
    if (!rcpt.startsWith("250")) return { mail, rcpt, data: null };
    const go = await s.send("DATA");
    if (!go.startsWith("354")) return { mail, rcpt, data: go };
    const body = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    s.socket.write(Buffer.concat([Buffer.from(body.toString("latin1").replace(/^\./gm, "..").replace(/(\r\n)?$/, "\r\n"), "latin1"), Buffer.from(".\r\n")]));
    const data = await s.next(30_000);
    await s.send("QUIT");
    return { mail, rcpt, data };
  } finally {
    s.close();
  }
}
