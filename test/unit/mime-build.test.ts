/**
 * buildMime writes what nodemailer's MailComposer writes for the same message — byte for byte but
 * the multipart boundary — so handing nodemailer the finished bytes changes nothing for recipients:
 * encoded names and subjects, IDN domains, folding, 7bit / quoted-printable / base64 choices, one
 * part or two.
 */
import { describe, expect, test } from "bun:test";
import { simpleParser } from "mailparser";
import MailComposer from "nodemailer/lib/mail-composer";
import * as qp from "nodemailer/lib/qp";
import { buildMime, qpEncode, type MimeMessage } from "@/lib/mime-build";

const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
const orderHtml = `<html><body>${"<p>Thank you for your order. Your items ship soon and a receipt is attached below.</p>".repeat(24)}</body></html>`;
const base: MimeMessage = {
  from: { name: "Sender", address: "news@example.com" },
  to: { name: "Ada", address: "ada@example.com" },
  replyTo: null,
  subject: "News for Ada",
  messageId: "<1.abc@example.com>",
  headers: { "List-Unsubscribe": "<http://localhost/u/eyJ4IjoxfQ.abcdefghijklmnopqrstuv>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" },
  text: "Hi Ada\n\nThanks",
  html: "<p>Hi Ada</p>",
};

const cases: [string, Partial<MimeMessage>][] = [
  ["plain ASCII, short lines (7bit)", {}],
  ["long HTML line and text lines over 76 characters (quoted-printable)", { html: orderHtml, text: "Thank you for your order. Your items ship soon and a receipt is attached below.\n".repeat(3) }],
  [
    "encoded names, an IDN domain, a long non-ASCII subject, a non-ASCII custom header",
    {
      from: { name: "Sénder Ñame", address: "news@jõgeva.ee" },
      to: { name: 'Ada "the" Lovelace, Jr.', address: "Ada@Example.COM" },
      replyTo: "Replies <replies@example.com>",
      subject: "News for Ada ✓ and a rather long subject line that goes past seventy six characters for sure",
      headers: { "X-Mailroom-Capture": "12.abcdefghijklmnopqrstuv", "X-Note": "héllo wörld" },
      text: "Hi é",
    },
  ],
  ["mostly non-Latin text (base64)", { subject: "Новости для Ады", text: "Привет, это текст целиком на русском языке", html: "<p>Привет, это текст целиком на русском языке</p>" }],
  ["no text part (one HTML part)", { text: "", html: "<p>only html</p>\n", subject: "=?utf-8?q?x?= looks encoded" }],
  ["no HTML part, trailing spaces and a leading dot", { html: "", text: "trailing space \nline\n.dot line\n", to: { name: null, address: "o'brien@example.com" }, subject: "  spaced\tsubject  " }],
  ["plain name with a sub-addressed recipient", { to: { name: "A_b 1", address: "first.last+tag@sub.example.org" } }],
];

async function nodemailerBytes(m: MimeMessage): Promise<string> {
  const mail = {
    from: m.from.name ? m.from : m.from.address,
    to: m.to.name ? m.to : m.to.address,
    ...(m.replyTo ? { replyTo: m.replyTo } : {}),
    subject: m.subject,
    html: m.html,
    text: m.text,
    messageId: m.messageId,
    headers: m.headers,
    date,
  };
  return (await new MailComposer(mail as ConstructorParameters<typeof MailComposer>[0]).compile().build()).toString();
}

/** The boundary is random per message (ours and nodemailer's alike). */
const sameBoundary = (raw: string) => {
  const boundary = /boundary="([^"]+)"/.exec(raw)?.[1];
  return boundary ? raw.replaceAll(boundary, "BOUNDARY") : raw;
};

describe("buildMime is nodemailer's message", () => {
  for (const [name, change] of cases) {
    test(name, async () => {
      const m = { ...base, ...change };
      const [ours, theirs] = [buildMime(m, date).toString(), await nodemailerBytes(m)];
      expect(sameBoundary(ours)).toBe(sameBoundary(theirs));
      // And a reader sees the same message (mailparser, as the capture inbox reads it).
      const [a, b] = [await simpleParser(ours), await simpleParser(theirs)];
      for (const field of ["subject", "messageId", "text", "html"] as const) expect(a[field]).toEqual(b[field]);
      for (const field of ["from", "to", "replyTo"] as const) expect(a[field]).toEqual(b[field]);
      expect(a.headers.get("list-unsubscribe")).toEqual(b.headers.get("list-unsubscribe"));
    });
  }

  test("quoted-printable bytes are nodemailer's for any text (UTF-8, surrogates, controls, '=', trailing whitespace)", () => {
    const alphabet = ["a", "Z", " ", "\t", "\n", "\r", "=", ".", "é", "€", "😀", "\ud800", "\udc00", "\x00", "\x01", "\x7f", "\x80", "ÿ"];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length;
    for (let i = 0; i < 20_000; i++) {
      const text = Array.from({ length: i % 13 }, () => alphabet[next()]).join("");
      expect([text, qpEncode(text)]).toEqual([text, qp.encode(text)]);
    }
  });

  test("each message gets its own boundary", () => {
    const boundaries = [1, 2, 3].map(() => /boundary="([^"]+)"/.exec(buildMime(base, date).toString())![1]);
    expect(new Set(boundaries).size).toBe(3);
  });
});
