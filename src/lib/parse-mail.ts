/**
 * MIME parsing with mailparser, loaded on first use: it is the heaviest dependency (~80 ms to load)
 * and only SMTP ingress and captured-message reads need it, so start-up does not pay for it.
 */
import type { AddressObject, EmailAddress, ParsedMail } from "mailparser";

export type { ParsedMail };

let parser: Promise<typeof import("mailparser")> | null = null;

/** Parses a raw message (headers, text and HTML parts, attachments); no link or text conversions. */
export async function parseMail(raw: Buffer | string): Promise<ParsedMail> {
  const { simpleParser } = await (parser ??= import("mailparser"));
  return simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true });
}

/** The mailboxes of an address header (To, Cc, …), groups expanded. */
export const mailboxes = (field: AddressObject | AddressObject[] | undefined): EmailAddress[] =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((o) => o.value).flatMap((a) => (a.group ? a.group : [a]));
