/**
 * Subscriber JSON (API.md §3): the derived `status` and `confirmation_status`, and the encoder used
 * by every route and by event payloads (`subscriber.*` data is `{"channel", "subscriber": {…}}`).
 */
import type { Subscriber } from "@/db/schema";
import { toIso } from "@/lib/time";

export type SubscriberStatus = "unsubscribed" | "bounced" | "complained" | "inactive" | "pending" | "active";
export type ConfirmationStatus = "confirmed" | "pending" | "unconfirmed";

/** First match of `unsubscribed › bounced › complained › inactive › pending › active` (seed 001). */
export function subscriberStatus(s: Subscriber): SubscriberStatus {
  if (s.unsubscribed_at !== null) return "unsubscribed";
  if (s.bounced_at !== null) return "bounced";
  if (s.complained_at !== null) return "complained";
  if (!s.is_active) return "inactive";
  if (confirmationStatus(s) === "pending") return "pending";
  return "active";
}

/** `confirmed` (confirmed_at set), `pending` (double opt-in sent), `unconfirmed` (never asked). */
export function confirmationStatus(s: Subscriber): ConfirmationStatus {
  if (s.confirmed_at !== null) return "confirmed";
  if (s.confirmation_sent_at !== null) return "pending";
  return "unconfirmed";
}

/** The §3 subscriber object. */
export function encodeSubscriber(s: Subscriber, channelSlug: string) {
  return {
    id: s.id,
    channel: channelSlug,
    email: s.email,
    first_name: s.first_name,
    last_name: s.last_name,
    ip_address: s.ip_address,
    is_active: s.is_active,
    status: subscriberStatus(s),
    source: s.source,
    subscribed_at: toIso(s.subscribed_at),
    unsubscribed_at: toIso(s.unsubscribed_at),
    confirmed_at: toIso(s.confirmed_at),
    confirmation_status: confirmationStatus(s),
    bounced_at: toIso(s.bounced_at),
    complained_at: toIso(s.complained_at),
    last_email_sent_at: toIso(s.last_email_sent_at),
    tags: s.tags,
    custom_data: s.redacted_at !== null ? null : s.custom_data,
    created_at: toIso(s.created_at),
    updated_at: toIso(s.updated_at),
  };
}
export type SubscriberJson = ReturnType<typeof encodeSubscriber>;
