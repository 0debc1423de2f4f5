/**
 * SendGrid's Signed Event Webhook: `X-Twilio-Email-Event-Webhook-Signature` is a base64 ECDSA
 * (P-256, SHA-256) signature of `X-Twilio-Email-Event-Webhook-Timestamp` + the raw body, checked
 * with the verification key from SendGrid's settings. The body is an array of events: `bounce`
 * (type `bounce` → hard, `blocked` → soft), `spamreport` → complaint, and `dropped` for an address
 * SendGrid itself refuses (bounced or invalid → hard, spam reporter → complaint).
 */
import { createPublicKey, verify } from "node:crypto";
import type { WebhookKeys } from "@/features/email_servers/credentials";
import type { ReportKind } from "@/features/bounces/report";
import { badPayload, checkFresh, derivedId, invalidSignature, isObj, joinText, lookup, num, parseJson, str, type HookPayload, type HookRequest, type Obj } from "./payload";
import type { ProviderEvent } from "./service";

const SIGNATURE = "x-twilio-email-event-webhook-signature";
const TIMESTAMP = "x-twilio-email-event-webhook-timestamp";
/** A batch holds at most 1,000 events (SendGrid's documented maximum). */
const MAX_EVENTS = 1000;

const DROPPED: Record<string, ReportKind> = { "Bounced Address": "hard_bounce", Invalid: "hard_bounce", "Spam Reporting Address": "complaint" };

/** @throws 401 unsigned, mis-signed or stale; 400 not an array of events. */
export function readSendgrid(req: HookRequest, keys: WebhookKeys): HookPayload {
  const signature = req.headers.get(SIGNATURE);
  const timestamp = req.headers.get(TIMESTAMP);
  if (!keys.publicKey || !signature || !timestamp) throw invalidSignature();
  const key = createPublicKey({ key: Buffer.from(keys.publicKey, "base64"), format: "der", type: "spki" });
  const signed = Buffer.concat([Buffer.from(timestamp, "utf8"), req.raw]);
  let valid = false;
  try {
    valid = verify("sha256", signed, key, Buffer.from(signature, "base64"));
  } catch {}
  if (!valid) throw invalidSignature();
  checkFresh(Number(timestamp) * 1000, req.now);
  const body = parseJson(req.raw);
  if (!Array.isArray(body) || body.length > MAX_EVENTS) throw badPayload(`The body must be an array of at most ${MAX_EVENTS} events`);
  return { events: body.flatMap((e) => (isObj(e) ? eventOf(e, req.now) : [])) };
}

function kindOf(e: Obj): ReportKind | null {
  switch (e.event) {
    case "bounce":
      return e.type === "blocked" ? "soft_bounce" : "hard_bounce";
    case "spamreport":
      return "complaint";
    case "dropped":
      return lookup(DROPPED, str(e, "reason"));
    default:
      return null;
  }
}

function eventOf(e: Obj, now: number): ProviderEvent[] {
  const kind = kindOf(e);
  const recipient = str(e, "email");
  if (!kind || !recipient) return [];
  const seconds = num(e, "timestamp");
  return [{
    eventId: str(e, "sg_event_id") ?? derivedId(e.event, recipient, e["smtp-id"], e.timestamp),
    kind,
    recipient,
    messageIdHeader: str(e, "smtp-id"),
    messageRowId: null,
    diagnostic: joinText(e.status, e.reason),
    occurredAt: seconds === null ? now : seconds * 1000,
  }];
}
