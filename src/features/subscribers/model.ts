/**
 * Subscriber JSON (docs/api-reference.md §3): the derived `status` and `confirmation_status`, and the encoder used
 * by every route and by event payloads (`subscriber.*` data is `{"channel", "subscriber": {…}}`).
 */
import { t, type Static } from "elysia";
import type { Subscriber } from "@/db/schema";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
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

const literals = <T extends string>(values: readonly T[]) => t.Union(values.map((v) => t.Literal(v)));

/** The §3 subscriber object. */
export const SubscriberSchema = Strict({
  id: Int(),
  channel: t.String(),
  email: t.String(),
  first_name: Nullable(t.String()),
  last_name: Nullable(t.String()),
  ip_address: Nullable(t.String()),
  is_active: t.Boolean(),
  status: literals(["unsubscribed", "bounced", "complained", "inactive", "pending", "active"]),
  source: t.String(),
  subscribed_at: Time,
  unsubscribed_at: Time,
  confirmed_at: Time,
  confirmation_status: literals(["confirmed", "pending", "unconfirmed"]),
  bounced_at: Time,
  complained_at: Time,
  last_email_sent_at: Time,
  tags: t.Array(t.String()),
  custom_data: Nullable(t.Record(t.String(), t.Unknown())),
  created_at: Time,
  updated_at: Time,
});

export function encodeSubscriber(s: Subscriber, channelSlug: string): Static<typeof SubscriberSchema> {
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
export type SubscriberJson = Static<typeof SubscriberSchema>;
