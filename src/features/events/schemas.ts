/**
 * The `data` schema of every event type (docs/api-reference.md §11.1, §11.3): the webhook payload and the feed row
 * carry exactly this. Each type's builder (catalogue.ts) is typed from its schema here, and the
 * OpenAPI document publishes them under `webhooks`.
 */
import { t, type Static, type TSchema } from "elysia";

const Str = t.String();
const NullableStr = t.Union([t.String(), t.Null()]);
const NullableInt = t.Union([t.Integer(), t.Null()]);
const Iso = t.String({ format: "date-time" });

/** The message an `email.*` event is about. */
export const EmailBase = {
  channel: Str,
  message_id: Str,
  transactional_id: NullableInt,
  broadcast_id: NullableInt,
  sequence_id: NullableInt,
  sequence_step_id: NullableInt,
  subscriber_id: NullableInt,
  recipient_email: Str,
  subject: NullableStr,
};
const email = <P extends Record<string, TSchema>>(extra: P) => t.Object({ ...EmailBase, ...extra });
const smtp = { smtp_response: NullableStr };

/** The subscriber object of §3 (its own schema lives with the subscribers feature). */
const SubscriberObject = t.Object({ id: t.Integer(), email: Str }, { additionalProperties: true, description: "The subscriber as GET /subscribers returns it (§3)" });
const subscriber = t.Object({ channel: Str, subscriber: SubscriberObject });

const broadcast = t.Object({
  channel: Str,
  broadcast: t.Object({ id: t.Integer(), name: NullableStr, subject: NullableStr, status: Str, total_recipients: t.Integer(), sent_at: t.Union([Iso, t.Null()]) }),
});

const sequenceBase = {
  channel: Str,
  sequence: t.Object({ id: t.Integer(), label: Str }),
  subscriber: t.Object({ id: t.Integer(), email: Str }),
  enrollment: t.Object({ id: t.Integer(), status: Str, current_step_id: NullableInt }),
};
const sequence = t.Object(sequenceBase);

export const EVENT_SCHEMAS = {
  "email.sent": email(smtp),
  "email.delivered": email(smtp),
  "email.delivery_delayed": email({ ...smtp, next_attempt_at: Iso }),
  "email.send_delayed": email({ reason: Str, next_attempt_at: Iso }),
  "email.bounced": email({ ...smtp, bounce_type: t.Literal("hard") }),
  // Mailroom extension: a temporary failure reported after sending (a DSN with 4.x.x or Action: delayed).
  "email.soft_bounced": email(smtp),
  "email.failed": email({ failure_reason: Str, smtp_response: t.Optional(NullableStr) }),
  "email.opened": email({ first_open: t.Boolean(), user_agent: NullableStr, ip: NullableStr }),
  "email.clicked": email({ url: Str, user_agent: NullableStr, ip: NullableStr }),
  "email.complained": email({}),
  "subscriber.created": subscriber,
  "subscriber.updated": subscriber,
  "subscriber.deleted": subscriber,
  "subscriber.subscribed": subscriber,
  "subscriber.unsubscribed": subscriber,
  "subscriber.bounced": subscriber,
  "subscriber.complained": subscriber,
  "broadcast.scheduled": broadcast,
  "broadcast.queueing": broadcast,
  "broadcast.sending": broadcast,
  "broadcast.sent": broadcast,
  "broadcast.failed": broadcast,
  "broadcast.partial_failure": broadcast,
  "broadcast.aborted": broadcast,
  "broadcast.paused": broadcast,
  "broadcast.batch_completed": t.Object({ ...broadcast.properties, batch: t.Object({ size: t.Integer(), enqueued_total: t.Integer() }) }),
  "sequence.subscriber_added": sequence,
  "sequence.subscriber_completed": sequence,
  "sequence.subscriber_moved": t.Object({ ...sequenceBase, to_sequence_id: t.Integer() }),
  "sequence.subscriber_removed": sequence,
  "sequence.subscriber_paused": sequence,
  "sequence.subscriber_resumed": sequence,
  "sequence.subscriber_error": t.Object({ ...sequenceBase, error: Str }),
  "message.attempt.exhausted": t.Object({
    channel: Str,
    webhook_endpoint_id: t.Integer(),
    delivery_id: t.Integer(),
    event_id: t.Integer(),
    event_type: Str,
    attempts: t.Integer(),
    last_response_status: NullableInt,
    last_error: NullableStr,
  }),
  "test.webhook": t.Object({ channel: Str, webhook_endpoint_id: t.Integer(), message: Str }),
} satisfies Record<string, TSchema>;

export type EventType = keyof typeof EVENT_SCHEMAS;
export type EventData<T extends EventType> = Static<(typeof EVENT_SCHEMAS)[T]>;

/** Every type, in catalogue order. */
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

/** The payload envelope (§11.1) around one type's data, for the OpenAPI `webhooks` section. */
export const eventEnvelope = (type: EventType) =>
  t.Object({ id: t.Integer(), type: t.Literal(type), created_at: Iso, occurred_at: Iso, data: EVENT_SCHEMAS[type] }, { additionalProperties: false });
