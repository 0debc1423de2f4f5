/**
 * The typed event catalogue (docs/api-reference.md §11.3): every appended event is built here, one builder per
 * family typed per event type by its schema (schemas.ts), so a payload can neither miss a field nor
 * carry one its type does not define. Features build events with these and append them with
 * appendEvents inside the transaction of the change.
 */
import { Value } from "@sinclair/typebox/value";
import type { Message } from "@/db/schema";
import { normalizeEmail } from "@/lib/email";
import { EmailBase, EVENT_SCHEMAS, type EventData, type EventType } from "./schemas";

/** One row of the events table before it is written. */
export interface NewEvent {
  type: EventType;
  channelId: number | null;
  /** The webhook/feed `data` object (includes the `channel` slug). */
  data: Record<string, unknown>;
  occurredAt?: number;
  /** Denormalised filter columns of the feed. */
  subscriberId?: number | null;
  email?: string | null;
  broadcastId?: number | null;
  transactionalId?: number | null;
}

type TypesOf<P extends string> = Extract<EventType, `${P}${string}`>;
export type EmailEventType = TypesOf<"email.">;
export type SubscriberEventType = TypesOf<"subscriber.">;
export type BroadcastEventType = Exclude<TypesOf<"broadcast.">, "broadcast.batch_completed">;
export type SequenceEventType = TypesOf<"sequence.">;

type EmailKeys = keyof typeof EmailBase;
/** What an `email.*` type adds to the message fields. */
export type EmailExtra<T extends EmailEventType> = Omit<EventData<T>, EmailKeys>;

/** The message fields an `email.*` event reads (a messages row, or the same fields from elsewhere). */
export type EmailMessage = Pick<Message, "id" | "kind" | "channel_id" | "message_id" | "broadcast_id" | "sequence_id" | "sequence_step_id" | "subscriber_id" | "recipient_email" | "subject">;

/** An `email.*` event about message `m` of channel `slug`. */
export function emailEvent<T extends EmailEventType>(type: T, slug: string, m: EmailMessage, extra: EmailExtra<T>, occurredAt?: number): NewEvent {
  const transactionalId = m.kind === "transactional" ? m.id : null;
  const data: EventData<"email.complained"> = {
    channel: slug,
    message_id: m.message_id,
    transactional_id: transactionalId,
    broadcast_id: m.broadcast_id,
    sequence_id: m.sequence_id,
    sequence_step_id: m.sequence_step_id,
    subscriber_id: m.subscriber_id,
    recipient_email: m.recipient_email,
    subject: m.subject,
  };
  return {
    type,
    channelId: m.channel_id,
    data: { ...data, ...extra },
    occurredAt,
    subscriberId: m.subscriber_id,
    // Stored form, like every other event writer (redaction finds a subscriber's events by it).
    email: normalizeEmail(m.recipient_email),
    broadcastId: m.broadcast_id,
    transactionalId,
  };
}

/** A `subscriber.*` event: `{channel, subscriber}` with the subscriber as the API encodes it. */
export function subscriberEvent(type: SubscriberEventType, channelId: number, slug: string, subscriber: EventData<"subscriber.created">["subscriber"]): NewEvent {
  return { type, channelId, data: { channel: slug, subscriber }, subscriberId: subscriber.id, email: subscriber.email };
}

type BroadcastSummary = EventData<"broadcast.sent">["broadcast"];

/** A `broadcast.*` status transition. */
export function broadcastEvent(type: BroadcastEventType, channelId: number, slug: string, broadcast: BroadcastSummary): NewEvent {
  return { type, channelId, data: { channel: slug, broadcast }, broadcastId: broadcast.id };
}

/** `broadcast.batch_completed`: one fan-out batch of `size` messages enqueued (`enqueued_total` so far). */
export function batchCompletedEvent(channelId: number, slug: string, broadcast: BroadcastSummary, batch: EventData<"broadcast.batch_completed">["batch"]): NewEvent {
  return { type: "broadcast.batch_completed", channelId, data: { channel: slug, broadcast, batch }, broadcastId: broadcast.id };
}

type SequenceData = EventData<"sequence.subscriber_added">;
/** What `sequence.subscriber_moved` / `_error` add. */
type SequenceExtra<T extends SequenceEventType> = Omit<EventData<T>, keyof SequenceData>;

/** A `sequence.*` enrollment lifecycle event. */
export function sequenceEvent<T extends SequenceEventType>(type: T, channelId: number, data: SequenceData, extra: SequenceExtra<T>): NewEvent {
  return { type, channelId, data: { ...data, ...extra }, subscriberId: data.subscriber.id, email: data.subscriber.email };
}

/** `message.attempt.exhausted`: a webhook delivery used all its retries (§11.2). */
export function attemptExhaustedEvent(channelId: number, data: EventData<"message.attempt.exhausted">): NewEvent {
  return { type: "message.attempt.exhausted", channelId, data };
}

/** `test.webhook`: sent only by POST /webhook_endpoints/:id/test, never stored in the feed. */
export function testWebhookEvent(channelId: number, slug: string, endpointId: number): NewEvent {
  return { type: "test.webhook", channelId, data: { channel: slug, webhook_endpoint_id: endpointId, message: "Test webhook from Mailroom" } };
}

/**
 * What POST /webhook_endpoints/:id/test sends for `type`: `test.webhook` itself, or sample data of
 * any other type (the defaults of its schema) marked `"test": true`.
 */
export function testEvent(type: EventType, channelId: number, slug: string, endpointId: number): NewEvent {
  if (type === "test.webhook") return testWebhookEvent(channelId, slug, endpointId);
  return { type, channelId, data: { ...(Value.Create(EVENT_SCHEMAS[type]) as Record<string, unknown>), channel: slug, test: true } };
}
