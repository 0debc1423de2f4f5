import { describe, expect, test } from "bun:test";
import { headerBlockSize, headerValue, parseHeaderBlock, rewriteHeaders, toCrlf } from "@/lib/mime";
import { Replies, SmtpReply, toSmtpReply } from "@/smtp/replies";
import { AppError, forbidden, unauthorized } from "@/lib/errors";

const line = (r: SmtpReply) => `${r.responseCode} ${r.message}`;

describe("happy", () => {
  test("folded headers are unfolded; the body is untouched", () => {
    const raw = Buffer.from("From: a@example.com\r\nSubject: a long\r\n  subject\r\nBcc: x@example.com,\r\n\ty@example.com\r\n\r\nBcc: not a header\r\n");
    const { fields, rest } = parseHeaderBlock(raw);
    expect(fields.map((f) => f.name)).toEqual(["From", "Subject", "Bcc"]);
    expect(headerValue(fields, "subject")).toBe("a long subject");
    expect(rest).toBe("\r\nBcc: not a header\r\n");
  });

  test("rewriteHeaders drops every line of a folded field, adds fields first, keeps LF-only endings", () => {
    const crlf = rewriteHeaders(Buffer.from("From: a@x.test\r\nBCC: x@x.test,\r\n y@x.test\r\nTo: b@x.test\r\n\r\nbody"), ["Bcc"], [["Date", "Thu, 15 Jan 2026 10:30:00 +0000"]]);
    expect(crlf.toString()).toBe("Date: Thu, 15 Jan 2026 10:30:00 +0000\r\nFrom: a@x.test\r\nTo: b@x.test\r\n\r\nbody");
    const lf = rewriteHeaders(Buffer.from("From: a@x.test\nBcc: x@x.test\n\nbody\n"), ["bcc"], [["Message-ID", "<1@x.test>"]]);
    expect(lf.toString()).toBe("Message-ID: <1@x.test>\nFrom: a@x.test\n\nbody\n");
  });

  test("8-bit bytes survive a rewrite byte for byte", () => {
    const raw = Buffer.concat([Buffer.from("Subject: "), Buffer.from("Grüße ✓", "utf8"), Buffer.from("\r\nBcc: z@x.test\r\n\r\n"), Buffer.from([0xff, 0x00, 0xc3])]);
    const out = rewriteHeaders(raw, ["Bcc"]);
    expect(out.equals(Buffer.concat([Buffer.from("Subject: "), Buffer.from("Grüße ✓", "utf8"), Buffer.from("\r\n\r\n"), Buffer.from([0xff, 0x00, 0xc3])]))).toBe(true);
  });

  test("toCrlf turns bare CR and bare LF into CRLF, like the relay's DATA stream; CRLF input is returned as is", () => {
    expect(toCrlf(Buffer.from("A: 1\nB: 2\rC: 3\r\r\n\nbody\n")).toString()).toBe("A: 1\r\nB: 2\r\nC: 3\r\n\r\n\r\nbody\r\n");
    const crlf = Buffer.from("A: 1\r\n\r\nbody\r\n");
    expect(toCrlf(crlf)).toBe(crlf);
  });

  test("headerBlockSize counts the header block's bytes and physical lines, continuations included", () => {
    expect(headerBlockSize(Buffer.from("From: a@x.test\r\nSubject: a\r\n b\r\n\r\nbody\r\nmore\r\n"))).toEqual({ bytes: 32, lines: 3 });
    expect(headerBlockSize(Buffer.from("From: a@x.test"))).toEqual({ bytes: 14, lines: 1 });
  });

  test("a message that starts with a blank line has no header fields (its From is body text)", () => {
    const { fields, rest } = parseHeaderBlock(Buffer.from("\r\nFrom: a@x.test\r\n\r\nbody"));
    expect(fields).toEqual([]);
    expect(rest).toBe("\r\nFrom: a@x.test\r\n\r\nbody");
    expect(headerBlockSize(Buffer.from("\r\nFrom: a@x.test\r\n"))).toEqual({ bytes: 0, lines: 0 });
  });
});

describe("errors", () => {
  test("AppError codes map to the §17 replies", () => {
    expect(line(toSmtpReply(unauthorized(), "auth"))).toBe("535 5.7.8 Authentication credentials invalid");
    expect(line(toSmtpReply(unauthorized("API token has expired", "token_expired"), "auth"))).toBe("535 5.7.8 API token has expired");
    // Mapped by the machine-readable reason, never by the message text.
    expect(line(toSmtpReply(unauthorized("Token expired at noon", "token_expired"), "auth"))).toBe("535 5.7.8 API token has expired");
    expect(line(toSmtpReply(unauthorized("API token has expired"), "auth"))).toBe("535 5.7.8 Authentication credentials invalid");
    expect(line(toSmtpReply(forbidden("Request IP 198.51.100.7 is not allowed for this token"), "auth"))).toBe("535 5.7.8 Authentication credentials invalid");
    expect(line(toSmtpReply(new AppError("rate_limited", "Rate limit exceeded. Please retry later."), "session"))).toBe("451 4.7.1 Rate limit exceeded, retry later");
    expect(line(toSmtpReply(new AppError("payment_required", "Payment Required", { message: "Monthly send quota exhausted" }), "session"))).toBe("550 5.7.0 Monthly send quota exhausted");
    expect(line(toSmtpReply(forbidden("x"), "capture"))).toBe("554 5.7.1 Capture accepts only Mailroom deliveries");
    expect(line(toSmtpReply(new Error("boom"), "session"))).toBe("451 4.3.0 Local error in processing, retry later");
    const own = Replies.suppressed();
    expect(toSmtpReply(own, "session")).toBe(own);
    expect(own).toBeInstanceOf(SmtpReply);
  });
});
