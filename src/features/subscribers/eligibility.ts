/**
 * Shared audience checks called by other features (transactionals, broadcasts, sequences, the
 * delivery worker): suppression lookups over the channel and global lists, eligibility (API.md §3),
 * and the hard-bounce side effects of delivery (§9, §12).
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { subscribers, suppressions, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { appendEvent } from "@/features/events/service";
import { normalizeEmail } from "@/lib/email";
import { encodeSubscriber, subscriberStatus } from "./model";

export type SuppressionReason = "manual" | "hard_bounce" | "complaint";
export interface SuppressionHit {
  scope: "channel" | "global";
  reason: SuppressionReason;
}

function prepareLookups(db: Db) {
  return {
    channel: db
      .select({ reason: suppressions.reason })
      .from(suppressions)
      .where(and(eq(suppressions.channel_id, sql.placeholder("channel")), eq(suppressions.email, sql.placeholder("email"))))
      .prepare(),
    global: db
      .select({ reason: suppressions.reason })
      .from(suppressions)
      .where(and(isNull(suppressions.channel_id), eq(suppressions.email, sql.placeholder("email"))))
      .prepare(),
  };
}
// Prepared once per connection object (a transaction handle gets its own entry, dropped with it).
const lookups = new WeakMap<Db, ReturnType<typeof prepareLookups>>();

/**
 * Is `email` suppressed for `channelId`? Reads the channel list first, then the global list.
 * `email` is normalised (trimmed, lower-cased) here, so callers may pass it as received.
 */
export function isSuppressed(db: Db, channelId: number, email: string): SuppressionHit | null {
  let q = lookups.get(db);
  if (!q) lookups.set(db, (q = prepareLookups(db)));
  const address = normalizeEmail(email);
  const own = q.channel.get({ channel: channelId, email: address });
  if (own) return { scope: "channel", reason: own.reason };
  const global = q.global.get({ email: address });
  return global ? { scope: "global", reason: global.reason } : null;
}

/**
 * Eligible for broadcasts and sequences (§3): status `active` (not unsubscribed, bounced,
 * complained, inactive or pending) and not suppressed on the channel or globally.
 */
export function isEligible(db: Db, subscriber: Subscriber): boolean {
  return subscriberStatus(subscriber) === "active" && isSuppressed(db, subscriber.channel_id, subscriber.email) === null;
}

export interface HardBounceResult {
  /** A new channel suppression row was written (false: the address was already suppressed). */
  suppressionAdded: boolean;
  /** The channel's subscriber with that address, after the update (null when there is none). */
  subscriber: Subscriber | null;
}

/**
 * Records a hard bounce (a 5xx to RCPT TO or DATA) for `email` on `channelId`: adds the channel
 * suppression `hard_bounce` (source `delivery`) unless one exists, sets `bounced_at` on the
 * channel's subscriber and emits `subscriber.bounced` for it. Does not emit `email.bounced` (the
 * delivery worker does, with the message data). Runs in `tx` when given (the caller's transaction),
 * else in its own.
 */
export function recordHardBounce(deps: Deps, channelId: number, email: string, tx?: Db): HardBounceResult {
  const run = (db: Db): HardBounceResult => {
    const now = deps.clock.now();
    const address = normalizeEmail(email);
    const added = db
      .insert(suppressions)
      .values({ channel_id: channelId, email: address, reason: "hard_bounce", source: "delivery", created_at: now })
      .onConflictDoNothing()
      .run();
    const subscriber =
      db
        .update(subscribers)
        .set({ bounced_at: now, updated_at: now })
        .where(and(eq(subscribers.channel_id, channelId), eq(subscribers.email, address)))
        .returning()
        .get() ?? null;
    if (subscriber) {
      const slug = deps.auth.cache.channelById(channelId)?.slug ?? null;
      appendEvent(db, deps.clock, {
        type: "subscriber.bounced",
        channelId,
        data: { channel: slug, subscriber: encodeSubscriber(subscriber, slug ?? "") },
        subscriberId: subscriber.id,
        email: subscriber.email,
      });
    }
    return { suppressionAdded: changes(added) > 0, subscriber };
  };
  return tx ? run(tx) : deps.db.transaction((t) => run(t as unknown as Db));
}

/** Rows changed by a drizzle `.run()` (bun:sqlite and better-sqlite3 both report `changes`). */
export const changes = (r: unknown): number => (r as { changes?: number }).changes ?? 0;
