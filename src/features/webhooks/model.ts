/**
 * Webhook endpoint and delivery fields and JSON (docs/api-reference.md §11). The secret is shown in full only in
 * the create response; afterwards its first 4 + 8 × `•` + last 4 characters.
 */
import { t, type Static } from "elysia";
import type { Channel, WebhookDelivery, WebhookEndpoint } from "@/db/schema";
import { EVENT_TYPES } from "@/features/events/schemas";
import { f, result } from "@/input/fields";
import { Nullable, Strict, Time, Warnings } from "@/input/schemas";
import { toIso } from "@/lib/time";

export const MAX_ENDPOINTS_PER_CHANNEL = 20;
const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES.filter((type) => type !== "test.webhook"));

/** §11.3 types; unknown ones are dropped with `parameter_ignored`, none left → 422. */
const eventTypes = f.custom(
  (v, at) => {
    if (!Array.isArray(v)) return result.err("must be an array of event types");
    const kept: string[] = [];
    v.forEach((type, i) => {
      if (typeof type === "string" && KNOWN_TYPES.has(type)) {
        if (!kept.includes(type)) kept.push(type);
      } else at.warnings.push({ code: "parameter_ignored", param: `${at.param}.${i}`, message: `${at.param}.${i} is not a known event type and was ignored` });
    });
    return kept.length ? result.ok(kept) : result.err("must include at least one known event type");
  },
  { schema: { type: "array", items: { type: "string", enum: [...KNOWN_TYPES] } } },
);

export const WebhookFields = {
  url: f.string({ required: true, max: 2048 }),
  event_types: { ...eventTypes, required: true as const },
  description: f.string({ max: 500, nullable: true }),
  retries_to_attempt: f.integer({ min: 0, max: 20 }),
  active: f.boolean(),
};

export const WebhookEndpointSchema = Strict({
  id: t.Integer(),
  channel: t.String(),
  url: t.String(),
  description: Nullable(t.String()),
  active: t.Boolean(),
  event_types: t.Array(t.String()),
  retries_to_attempt: t.Integer(),
  secret: t.String(),
  last_response_code: Nullable(t.Integer()),
  last_sent_at: Time,
  created_at: Time,
  updated_at: Time,
  warnings: t.Optional(Warnings),
});

export const maskSecret = (hint: string) => `${hint.slice(0, 4)}${"•".repeat(8)}${hint.slice(-4)}`;

/** The endpoint's JSON; `fullSecret` only in the create response. */
export function encodeEndpoint(e: WebhookEndpoint, channel: Channel, fullSecret?: string): Static<typeof WebhookEndpointSchema> {
  return {
    id: e.id,
    channel: channel.slug,
    url: e.url,
    description: e.description,
    active: e.active,
    event_types: e.event_types,
    retries_to_attempt: e.retries_to_attempt,
    secret: fullSecret ?? maskSecret(e.secret_hint),
    last_response_code: e.last_response_code,
    last_sent_at: toIso(e.last_sent_at),
    created_at: toIso(e.created_at),
    updated_at: toIso(e.updated_at),
  };
}

export const DELIVERY_STATUSES = ["pending", "succeeded", "failed", "exhausted", "cancelled"] as const;
export const DeliveryFilterFields = { status: f.enum(DELIVERY_STATUSES) };

export const DeliverySchema = Strict({
  id: t.Integer(),
  event_id: Nullable(t.Integer()),
  event_type: t.String(),
  status: t.Union(DELIVERY_STATUSES.map((s) => t.Literal(s))),
  test: t.Boolean(),
  attempts: t.Integer(),
  response_status: Nullable(t.Integer()),
  response_body_excerpt: Nullable(t.String()),
  duration_ms: Nullable(t.Integer()),
  error: Nullable(t.String()),
  next_attempt_at: Time,
  created_at: Time,
  last_attempt_at: Time,
  delivered_at: Time,
});

export const encodeDelivery = (d: WebhookDelivery): Static<typeof DeliverySchema> => ({
  id: d.id,
  event_id: d.event_id,
  event_type: d.event_type,
  status: d.status,
  test: d.test,
  attempts: d.attempts,
  response_status: d.response_status,
  response_body_excerpt: d.response_body_excerpt,
  duration_ms: d.duration_ms,
  error: d.error,
  next_attempt_at: toIso(d.next_attempt_at),
  created_at: toIso(d.created_at),
  last_attempt_at: toIso(d.last_attempt_at),
  delivered_at: toIso(d.delivered_at),
});
