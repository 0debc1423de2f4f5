/**
 * Amazon SES notifications delivered through SNS: the post is an SNS message (verified in sns.ts);
 * a Notification's Message is SES's JSON — `Bounce` (bounceType Permanent → hard, Transient or
 * Undetermined → soft) or `Complaint`, one event per named recipient. SES's messageId is its own; our
 * message is found by the Message-ID header we sent (mail.headers, else mail.commonHeaders.messageId).
 */
import { AppError } from "@/lib/errors";
import type { WebhookKeys } from "@/features/email_servers/credentials";
import { badPayload, isObj, isoTime, joinText, parseJson, str, type HookPayload, type HookRequest, type Obj } from "./payload";
import type { SnsCertificates } from "./sns";
import type { ProviderEvent } from "./service";

/** @throws 401 unsigned or mis-signed, 403 another topic than the server's, 400 not an SES notification. */
export async function readSes(req: HookRequest, keys: WebhookKeys, certificates: SnsCertificates): Promise<HookPayload> {
  const message = await certificates.verify(parseJson(req.raw), req.now);
  if (keys.snsTopicArn && message.topicArn !== keys.snsTopicArn) {
    throw new AppError("forbidden", "Forbidden", { message: "The SNS topic is not the one configured for this email server" });
  }
  if (message.type === "SubscriptionConfirmation") {
    await certificates.confirm(message);
    return { events: [], confirmed: true };
  }
  if (message.type !== "Notification") return { events: [] };
  const notification = parseJson(new TextEncoder().encode(message.message));
  if (!isObj(notification)) throw badPayload("The SNS Message is not an SES notification");
  return { events: eventsOf(notification, message.messageId, req.now) };
}

/** The Message-ID header we sent: from the original headers SES lists, else its common headers (when the list was truncated). */
function messageIdHeader(mail: Obj): string | null {
  const headers = Array.isArray(mail.headers) ? mail.headers : [];
  const header = headers.find((h) => isObj(h) && typeof h.name === "string" && h.name.toLowerCase() === "message-id");
  const original = isObj(header) ? str(header, "value") : null;
  return original ?? str(isObj(mail.commonHeaders) ? mail.commonHeaders : {}, "messageId");
}

function eventsOf(n: Obj, snsMessageId: string, now: number): ProviderEvent[] {
  // Notifications say `notificationType`; configuration-set event publishing says `eventType`.
  const type = str(n, "notificationType") ?? str(n, "eventType");
  const mail = isObj(n.mail) ? n.mail : {};
  const header = messageIdHeader(mail);
  const each = (recipients: unknown, kind: ProviderEvent["kind"], detail: Obj, diagnostic: (r: Obj) => string | null): ProviderEvent[] =>
    (Array.isArray(recipients) ? recipients : []).filter(isObj).flatMap((r) => {
      const recipient = str(r, "emailAddress");
      if (!recipient) return [];
      return [{
        // One SNS message may name several recipients: each is its own event.
        eventId: `${snsMessageId}:${recipient.toLowerCase()}`,
        kind,
        recipient,
        messageIdHeader: header,
        messageRowId: null,
        diagnostic: diagnostic(r),
        occurredAt: isoTime(str(detail, "timestamp"), now),
      }];
    });
  const { bounce, complaint } = n;
  if (type === "Bounce" && isObj(bounce)) {
    const kind = bounce.bounceType === "Permanent" ? "hard_bounce" : "soft_bounce";
    return each(bounce.bouncedRecipients, kind, bounce, (r) => joinText(r.status, r.diagnosticCode) ?? joinText(bounce.bounceSubType));
  }
  if (type === "Complaint" && isObj(complaint)) {
    return each(complaint.complainedRecipients, "complaint", complaint, () => joinText(complaint.complaintFeedbackType));
  }
  return [];
}
