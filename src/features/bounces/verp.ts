/**
 * VERP return paths (docs/bounces.md): with MAILROOM_BOUNCE_DOMAIN set, each message's envelope
 * sender is `bounces+<id>-<sig>@<bounce domain>`, where `<id>` is the outbox row id in base 36 and
 * `<sig>` the first 80 bits of HMAC-SHA256(link secret, "bounce:<id>") in hex. A bounce comes back
 * to that address, so it names its message without parsing anything and cannot be forged. Lower
 * case only: some MTAs change the case of the local part. No personal data.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { linkSecret } from "@/db/settings";
import type { Deps } from "@/deps";

const PREFIX = "bounces+";
/** The one unsigned address of the bounce domain: where feedback loops (ARF) are registered to report. */
export const FEEDBACK_LOCAL_PART = "feedback";
const SIGNATURE_BYTES = 10;
const ADDRESS = /^bounces\+([0-9a-z]{1,11})-([0-9a-f]{20})@(.+)$/;

const signature = (secret: string, ref: string) => createHmac("sha256", secret).update(`bounce:${ref}`).digest().subarray(0, SIGNATURE_BYTES);

/** The signed return path of message `messageId` in `domain`. */
export function signedReturnPath(secret: string, domain: string, messageId: number): string {
  const ref = messageId.toString(36);
  return `${PREFIX}${ref}-${signature(secret, ref).toString("hex")}@${domain}`;
}

/** The message id of a valid signed return path of `domain`, else null (any other address, a bad signature). Constant-time compare. */
export function messageOfReturnPath(secret: string, domain: string, address: string): number | null {
  const m = ADDRESS.exec(address.trim().toLowerCase());
  if (!m || m[3] !== domain.toLowerCase()) return null;
  const given = Buffer.from(m[2]!, "hex");
  const expected = signature(secret, m[1]!);
  if (!timingSafeEqual(given, expected)) return null;
  const id = parseInt(m[1]!, 36);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/** Does the inbound listener take mail for `address`: a valid signed return path, or the feedback address, of `domain`? */
export function acceptsRecipient(secret: string, domain: string, address: string): boolean {
  return address.trim().toLowerCase() === `${FEEDBACK_LOCAL_PART}@${domain}` || messageOfReturnPath(secret, domain, address) !== null;
}

/** The envelope sender for message `messageId` when VERP is on (MAILROOM_BOUNCE_DOMAIN set), else null. */
export function returnPathFor(deps: Pick<Deps, "db" | "config">, messageId: number): string | null {
  const domain = deps.config.bounceDomain;
  return domain ? signedReturnPath(linkSecret(deps), domain, messageId) : null;
}
