/**
 * Mailgun webhooks (JSON, the current format): `signature.signature` = hex HMAC-SHA256 of
 * `timestamp + token` under the domain's HTTP webhook signing key; `event-data` is one event.
 * `failed` → hard bounce (severity permanent) or soft (temporary); `complained` → complaint.
 * The signature does not cover `event-data`, so a token is accepted once (service.ts, the nonce).
 */
import { createHmac } from "node:crypto";
import type { WebhookKeys } from "@/features/email_servers/credentials";
import { badPayload, checkFresh, invalidSignature, isObj, joinText, num, parseJson, sameSecret, str, type HookPayload, type HookRequest, type Obj } from "./payload";
import type { ProviderEvent } from "./service";

/** @throws 401 unsigned, mis-signed or stale; 400 not a Mailgun event. */
export function readMailgun(req: HookRequest, keys: WebhookKeys): HookPayload {
  const body = parseJson(req.raw);
  if (!isObj(body) || !isObj(body.signature)) throw invalidSignature();
  const { timestamp, token, signature } = body.signature as Obj;
  if (!keys.signingKey || typeof timestamp !== "string" || typeof token !== "string" || typeof signature !== "string") throw invalidSignature();
  const expected = createHmac("sha256", keys.signingKey).update(timestamp + token).digest("hex");
  if (!sameSecret(expected, signature.toLowerCase())) throw invalidSignature();
  checkFresh(Number(timestamp) * 1000, req.now);
  const data = body["event-data"];
  if (!isObj(data) || typeof data.event !== "string") throw badPayload("event-data.event is missing");
  const event = eventOf(data, req.now);
  // The signature does not cover the body: the token is spent by this post (Mailgun's guidance).
  return { events: event ? [event] : [], nonce: token };
}

function eventOf(data: Obj, now: number): ProviderEvent | null {
  const kind = data.event === "complained" ? "complaint" : data.event === "failed" ? (data.severity === "permanent" ? "hard_bounce" : "soft_bounce") : null;
  if (!kind) return null;
  const id = str(data, "id");
  const recipient = str(data, "recipient");
  if (!id || !recipient) throw badPayload("event-data.id and event-data.recipient are required");
  const message = isObj(data.message) ? data.message : {};
  const headers = isObj(message.headers) ? message.headers : {};
  const status = isObj(data["delivery-status"]) ? data["delivery-status"] : {};
  const seconds = num(data, "timestamp");
  return {
    eventId: id,
    kind,
    recipient,
    messageIdHeader: str(headers, "message-id"),
    messageRowId: null,
    diagnostic: joinText(status.code, status.message, status.description, data.reason),
    occurredAt: seconds === null ? now : Math.round(seconds * 1000),
  };
}
