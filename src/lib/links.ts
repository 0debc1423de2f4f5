/**
 * Signed link tokens of docs/api-reference.md §16: `<payload>.<sig>` where payload = base64url (unpadded) of a
 * compact JSON array and sig = base64url of the first 16 bytes of
 * HMAC-SHA256(link_secret, "<purpose>:<payload>"). Used by tracking, unsubscribe and confirmation
 * links and by the `X-Mailroom-Capture` header (purpose `capture`, §18). The secret itself comes
 * from `linkSecret` in db/settings.ts.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type LinkPurpose = "open" | "click" | "unsub" | "confirm" | "capture";
export type LinkPayload = readonly (number | string)[];

const b64url = (buf: Buffer) => buf.toString("base64url");

function signature(secret: string, purpose: LinkPurpose, payload: string): Buffer {
  return createHmac("sha256", secret).update(`${purpose}:${payload}`).digest().subarray(0, 16);
}

/** `<payload>.<sig>` for a payload array. */
export function signLink(secret: string, purpose: LinkPurpose, payload: LinkPayload): string {
  const encoded = b64url(Buffer.from(JSON.stringify(payload)));
  return `${encoded}.${b64url(signature(secret, purpose, encoded))}`;
}

/** The payload array of a valid token for `purpose`, or null (bad shape, bad signature). Constant-time compare. */
export function verifyLink(secret: string, purpose: LinkPurpose, token: string): unknown[] | null {
  const dot = token.indexOf(".");
  if (dot <= 0 || dot !== token.lastIndexOf(".")) return null;
  const encoded = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  const expected = signature(secret, purpose, encoded);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const value = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"));
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Value of the `X-Mailroom-Capture` header (§18): `<outbox message id>.<sig>`, the id itself being
 * the signed payload (HMAC of "capture:<id>", as §16).
 */
export const captureHeaderValue = (secret: string, messageId: number) =>
  `${messageId}.${b64url(signature(secret, "capture", String(messageId)))}`;

/** The outbox message id carried by a valid `X-Mailroom-Capture` header value, or null. Constant-time compare. */
export function verifyCaptureHeader(secret: string, value: string): number | null {
  const m = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{22})$/.exec(value.trim());
  if (!m) return null;
  const given = Buffer.from(m[2], "base64url");
  const expected = signature(secret, "capture", m[1]);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? id : null;
}
