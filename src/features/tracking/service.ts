/**
 * What the public pages of §16 record: opens (every fetch is an `email.opened` event; the first one
 * sets the message's `opened_at` and the subscriber's counters), clicks (the target is the URL
 * stored for the message's broadcast and link index, or in the own body of a sequence message or a
 * transactional — never taken from the request) and unsubscribes through a signed link. A token
 * that does not verify, or names a message or subscriber that does not exist, changes nothing (the
 * caller answers 404).
 */
import { and, eq, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { broadcast_links, messages, subscribers, type Message, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { emailEvent } from "@/features/events/catalogue";
import { appendEvent } from "@/features/events/service";
import { linkTarget } from "@/features/broadcasts/content";
import { unsubscribe } from "@/features/subscribers/service";
import { findByEmail } from "@/features/subscribers/store";
import { normalizeEmail } from "@/lib/email";
import { linkSecret } from "@/db/settings";
import { verifyLink, type LinkPurpose } from "@/lib/links";

export interface Visitor {
  ip: string | null;
  userAgent: string | null;
}

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** The integer payload of a valid token of `purpose` with `length` elements, or null. */
export function readToken(deps: Deps, purpose: LinkPurpose, token: string, length: number): number[] | null {
  const payload = verifyLink(linkSecret(deps), purpose, token);
  return payload && payload.length === length && payload.every(isId) ? (payload as number[]) : null;
}

const messageById = (deps: Deps, id: number) => deps.db.select().from(messages).where(eq(messages.id, id)).get();

/** Records an open of message `id`; false when there is no such message. */
export function recordOpen(deps: Deps, id: number, visitor: Visitor): boolean {
  return deps.db.transaction((tx) => {
    const m = tx.select().from(messages).where(eq(messages.id, id)).get();
    if (!m) return false;
    const now = deps.clock.now();
    const first = m.opened_at === null;
    if (first) {
      tx.update(messages).set({ opened_at: now }).where(eq(messages.id, m.id)).run();
      if (m.subscriber_id) {
        tx.update(subscribers)
          .set({ last_email_opened_at: now, total_emails_opened: sqlIncrement(subscribers.total_emails_opened) })
          .where(eq(subscribers.id, m.subscriber_id))
          .run();
      }
    }
    appendEvent(tx, deps.clock, emailEvent("email.opened", slug(deps, m), m, { first_open: first, user_agent: visitor.userAgent, ip: visitor.ip }));
    return true;
  });
}

/** Records a click of link `index` of message `id`; returns the stored target, or null (nothing recorded). */
export function recordClick(deps: Deps, id: number, index: number, visitor: Visitor): string | null {
  return deps.db.transaction((tx) => {
    const url = clickTarget(deps, [id, index]);
    const m = url === null ? undefined : messageById(deps, id);
    if (!m || url === null) return null;
    const now = deps.clock.now();
    if (m.clicked_at === null) {
      tx.update(messages).set({ clicked_at: now }).where(eq(messages.id, m.id)).run();
      if (m.subscriber_id) {
        tx.update(subscribers)
          .set({ last_email_clicked_at: now, total_emails_clicked: sqlIncrement(subscribers.total_emails_clicked) })
          .where(eq(subscribers.id, m.subscriber_id))
          .run();
      }
    }
    appendEvent(tx, deps.clock, emailEvent("email.clicked", slug(deps, m), m, { url, user_agent: visitor.userAgent, ip: visitor.ip }));
    return url;
  });
}

/** The stored target of a click token's (message, link index), without recording anything. */
export function clickTarget(deps: Deps, [messageId, index]: number[]): string | null {
  const m = messageById(deps, messageId!);
  // Sequence mail carries its links in its own body (copied from the step when it was queued), a transactional in the body it was sent with.
  if (m?.kind === "sequence" || m?.kind === "transactional") return linkTarget(m.body ?? "", index!);
  if (!m?.broadcast_id) return null;
  const link = deps.db
    .select({ url: broadcast_links.url })
    .from(broadcast_links)
    .where(and(eq(broadcast_links.broadcast_id, m.broadcast_id), eq(broadcast_links.link_index, index!)))
    .get();
  return link?.url ?? null;
}

/**
 * The subscriber an unsubscribe token names (null when gone or redacted). A transactional to an
 * address that was no subscriber when it was sent names none (`0`): the channel's subscriber with the
 * recipient's address then, if there is one now.
 */
export function unsubscribeTarget(deps: Deps, [subscriberId, messageId]: number[]): Subscriber | null {
  const m = messageId ? messageById(deps, messageId) : undefined;
  const s = subscriberId
    ? deps.db.select().from(subscribers).where(eq(subscribers.id, subscriberId)).get()
    : m && findByEmail(deps.db, m.channel_id, normalizeEmail(m.recipient_email));
  return s && s.redacted_at === null ? s : null;
}

/** Unsubscribes from the channel (idempotent); the message's broadcast, if any, is named on the event. */
export function unsubscribeByLink(deps: Deps, payload: number[]): boolean {
  const s = unsubscribeTarget(deps, payload);
  const channel = s && deps.auth.cache.channelById(s.channel_id);
  if (!s || !channel) return false;
  const m = payload[1] ? messageById(deps, payload[1]) : undefined;
  unsubscribe(deps, channel, s, m?.channel_id === s.channel_id ? m.broadcast_id : null);
  return true;
}

const slug = (deps: Deps, m: Message) => deps.auth.cache.slugOf(m.channel_id) ?? "";
const sqlIncrement = (column: SQLiteColumn) => sql<number>`${column} + 1`;
