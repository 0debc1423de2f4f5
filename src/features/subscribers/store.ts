/**
 * Prepared statements and write helpers for the subscribers tables. Every write that changes a
 * subscriber's tags goes through `syncTags`, so `subscriber_tags` always mirrors `subscribers.tags`
 * (segments and tag filters read the mirror). Statements are prepared once per connection.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { perConnection, type Db } from "@/db/client";
import { subscriber_tags, subscribers, type Channel, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { subscriberEvent as buildSubscriberEvent, type NewEvent, type SubscriberEventType } from "@/features/events/catalogue";
import { normalizeEmail } from "@/lib/email";
import { encodeSubscriber } from "./model";

const ph = sql.placeholder;

function prepare(db: Db) {
  return {
    byEmail: db
      .select()
      .from(subscribers)
      .where(and(eq(subscribers.channel_id, ph("channel")), eq(subscribers.email, ph("email"))))
      .prepare(),
    insert: db
      .insert(subscribers)
      .values({
        channel_id: ph("channel_id") as never,
        email: ph("email") as never,
        first_name: ph("first_name") as never,
        last_name: ph("last_name") as never,
        ip_address: ph("ip_address") as never,
        is_active: ph("is_active") as never,
        source: ph("source") as never,
        subscribed_at: ph("subscribed_at") as never,
        confirmed_at: ph("confirmed_at") as never,
        confirmation_sent_at: ph("confirmation_sent_at") as never,
        tags: ph("tags") as never,
        custom_data: ph("custom_data") as never,
        created_at: ph("now") as never,
        updated_at: ph("now") as never,
      })
      .returning()
      .prepare(),
    /** The fields a bulk upsert may change on an existing row. */
    updateProfile: db
      .update(subscribers)
      .set({
        first_name: ph("first_name") as never,
        last_name: ph("last_name") as never,
        tags: ph("tags") as never,
        custom_data: ph("custom_data") as never,
        updated_at: ph("now") as never,
      })
      .where(eq(subscribers.id, ph("id")))
      .returning()
      .prepare(),
    insertTag: db
      .insert(subscriber_tags)
      .values({ subscriber_id: ph("id") as never, channel_id: ph("channel") as never, tag: ph("tag") as never })
      .onConflictDoNothing()
      .prepare(),
    deleteTag: db
      .delete(subscriber_tags)
      .where(and(eq(subscriber_tags.subscriber_id, ph("id")), eq(subscriber_tags.tag, ph("tag"))))
      .prepare(),
  };
}
export type Statements = ReturnType<typeof prepare>;

/** The prepared statements of `db`'s connection (they run inside whatever transaction is open on it). */
export const statements = perConnection(prepare);

/** The subscriber with this stored-form email in the channel. */
export function findByEmail(db: Db, channelId: number, email: string): Subscriber | undefined {
  return statements(db).byEmail.get({ channel: channelId, email });
}

const idByEmail = perConnection((db: Db) =>
  db.select({ id: subscribers.id }).from(subscribers).where(and(eq(subscribers.channel_id, ph("channel")), eq(subscribers.email, ph("email")))).prepare(),
);

/** The channel's subscriber with this address (any case), for linking one message (§4 "Linking"). */
export function subscriberIdByEmail(db: Db, channelId: number, email: string): number | null {
  return idByEmail(db).get({ channel: channelId, email: normalizeEmail(email) })?.id ?? null;
}

/** Subscriber ids of the channel by lower-cased email, for linking messages (§4 "Linking"). */
export function subscriberIdsByEmail(db: Db, channelId: number, emails: readonly string[]): Map<string, number> {
  const lower = [...new Set(emails.map(normalizeEmail))];
  if (lower.length === 0) return new Map();
  const rows = db
    .select({ id: subscribers.id, email: subscribers.email })
    .from(subscribers)
    .where(and(eq(subscribers.channel_id, channelId), inArray(subscribers.email, lower)))
    .all();
  return new Map(rows.map((r) => [r.email, r.id]));
}

/** Makes `subscriber_tags` of subscriber `id` go from `before` to `after`. */
export function syncTags(db: Db, id: number, channelId: number, before: readonly string[], after: readonly string[]): void {
  const s = statements(db);
  const next = new Set(after);
  const prev = new Set(before);
  for (const tag of prev) if (!next.has(tag)) s.deleteTag.run({ id, tag });
  for (const tag of next) if (!prev.has(tag)) s.insertTag.run({ id, channel: channelId, tag });
}

/** A `subscriber.*` event with the §11.1 data shape `{"channel", "subscriber": {…}}`. */
export function subscriberEvent(type: SubscriberEventType, channel: Channel, row: Subscriber): NewEvent {
  return buildSubscriberEvent(type, channel.id, channel.slug, encodeSubscriber(row, channel.slug));
}

/** Runs `fn` atomically: in a savepoint of the caller's transaction `tx`, else in a new transaction. */
export function atomically<T>(deps: Deps, tx: Db | undefined, fn: (db: Db) => T): T {
  // A caller's transaction (or group-commit savepoint) already makes it all-or-nothing.
  return tx ? fn(tx) : deps.db.transaction((t) => fn(t as unknown as Db));
}
