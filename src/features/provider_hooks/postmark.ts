/**
 * Postmark bounce and spam complaint webhooks, authenticated the way Postmark documents: HTTP Basic
 * credentials in the webhook URL, configured on the server as webhook_username/webhook_password.
 * Postmark names the message by its own id only, so outgoing mail through a Postmark server carries
 * our outbox row id as metadata (compose.ts adds the header), read back from `Metadata`.
 */
import type { WebhookKeys } from "@/features/email_servers/credentials";
import type { ReportKind } from "@/features/bounces/report";
import { badPayload, derivedId, invalidSignature, isObj, isoTime, joinText, lookup, parseJson, rowId, sameSecret, str, type HookPayload, type HookRequest } from "./payload";

/** Metadata key of our outbox row id; Postmark turns `X-PM-Metadata-<key>` headers into `Metadata` and strips them. */
const METADATA_KEY = "mailroom-id";
export const POSTMARK_METADATA_HEADER = `X-PM-Metadata-${METADATA_KEY}`;

const KINDS: Record<string, ReportKind> = {
  HardBounce: "hard_bounce",
  BadEmailAddress: "hard_bounce",
  SoftBounce: "soft_bounce",
  Transient: "soft_bounce",
  DnsError: "soft_bounce",
  SpamComplaint: "complaint",
};

/** Whether the request carries the configured Basic credentials (none configured: never). */
function authenticated(req: HookRequest, keys: WebhookKeys): boolean {
  const header = req.headers.get("authorization") ?? "";
  if (!keys.password || !/^Basic /i.test(header)) return false;
  const given = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  return sameSecret(given, `${keys.username ?? ""}:${keys.password}`);
}

/** @throws 401 without the credentials; 400 not a Postmark record. */
export function readPostmark(req: HookRequest, keys: WebhookKeys): HookPayload {
  if (!authenticated(req, keys)) throw invalidSignature();
  const body = parseJson(req.raw);
  if (!isObj(body) || typeof body.RecordType !== "string") throw badPayload("RecordType is missing");
  if (body.RecordType !== "Bounce" && body.RecordType !== "SpamComplaint") return { events: [] };
  const kind = lookup(KINDS, str(body, "Type"));
  const recipient = str(body, "Email");
  if (!kind || !recipient) return { events: [] };
  const metadata = isObj(body.Metadata) ? body.Metadata : {};
  // An ID beyond 2^53 may have been rounded by JSON.parse: then the record's own fields identify it.
  const exact = Number.isSafeInteger(body.ID) || (typeof body.ID === "string" && body.ID !== "");
  const id = exact ? `${body.RecordType}:${body.ID}` : derivedId(body.RecordType, body.ID, body.MessageID, body.Email, body.BouncedAt);
  return {
    events: [{
      eventId: id,
      kind,
      recipient,
      messageIdHeader: null,
      messageRowId: rowId(metadata[METADATA_KEY]),
      diagnostic: joinText(body.Description, body.Details),
      occurredAt: isoTime(str(body, "BouncedAt"), req.now),
    }],
  };
}
