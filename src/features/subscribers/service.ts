/**
 * Subscribers (docs/api-reference.md §3): upsert, update, tags, (de)activation, (un/re)subscription and redaction.
 * Every change appends its `subscriber.*` events in the same transaction and keeps
 * `subscriber_tags` in step with `subscribers.tags`. Callers pass the single target channel
 * (`scope.one()`); nothing here reads the request.
 */
import { and, eq, or, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { events, subscribers, type Channel, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { appendEvents } from "@/features/events/service";
import type { NewEvent, SubscriberEventType } from "@/features/events/catalogue";
import { notFound, unprocessable, validationError, type FieldErrors } from "@/lib/errors";
import type { Warning } from "@/input/fields";
import { isSuppressed } from "./eligibility";
import { checkCustomDataSize, MAX_TAGS, mergeTags } from "./fields";
import { atomically, findByEmail, statements, subscriberEvent, syncTags } from "./store";

export interface SubscriberValues {
  email?: string;
  first_name?: string | null;
  last_name?: string | null;
  ip_address?: string | null;
  is_active?: boolean;
  source?: string;
  subscribed_at?: number;
  confirmed_at?: number;
  /** Double opt-in asked now (§10.2): the subscriber is `pending`; ignored for confirmed subscribers. */
  confirmation_sent_at?: number;
  tags?: string[] | null;
  custom_data?: Record<string, unknown> | null;
}

/**
 * The channel's subscriber with `email` (stored form). A redacted subscriber is deleted for these
 * routes (its `redacted-<id>@…` address must not bring it back to life).
 * @throws 404 Subscriber not found.
 */
export function getByEmail(deps: Deps, channel: Channel, email: string): Subscriber {
  const row = findByEmail(deps.db, channel.id, email);
  if (!row || row.redacted_at !== null) throw notFound("Subscriber");
  return row;
}

/** Fields the upsert keeps on an existing subscriber (§3 Compat). */
const KEPT_ON_UPSERT = ["source", "subscribed_at", "is_active"] as const;

export interface UpsertResult {
  subscriber: Subscriber;
  created: boolean;
  warnings: Warning[];
}

/**
 * Creates the subscriber, or updates the existing one with the same email (§3 Compat): given
 * scalars overwrite, `tags`/`custom_data` merge, `source`/`subscribed_at`/`is_active` are kept
 * (`parameter_ignored`), and an unsubscribed subscriber stays unsubscribed. Emits
 * `subscriber.created` (+ `subscriber.subscribed` when created active) or `subscriber.updated`.
 * Pass `tx` to run inside the caller's transaction (forms, transactionals, sequences).
 * @throws 422 when merged custom_data exceeds its limits.
 */
export function upsertSubscriber(deps: Deps, channel: Channel, v: SubscriberValues & { email: string }, tx?: Db): UpsertResult {
  return atomically(deps, tx, (db) => {
    const now = deps.clock.now();
    const existing = findByEmail(deps.db, channel.id, v.email);
    if (!existing) {
      const row = statements(deps.db).insert.get({
        channel_id: channel.id,
        email: v.email,
        first_name: v.first_name ?? null,
        last_name: v.last_name ?? null,
        ip_address: v.ip_address ?? null,
        is_active: v.is_active ?? true,
        source: v.source ?? "api_subscription",
        subscribed_at: v.subscribed_at ?? now,
        confirmed_at: v.confirmed_at ?? null,
        confirmation_sent_at: v.confirmation_sent_at ?? null,
        tags: v.tags ?? [],
        custom_data: v.custom_data ?? {},
        now,
      })!;
      syncTags(deps.db, row.id, channel.id, [], row.tags);
      const out: NewEvent[] = [subscriberEvent("subscriber.created", channel, row)];
      // A pending subscriber is subscribed by confirming (§10.2), not on creation.
      if (row.is_active && row.confirmation_sent_at === null) out.push(subscriberEvent("subscriber.subscribed", channel, row));
      appendEvents(db, deps.clock, out);
      deps.subscriberHooks.changed(deps, db, channel, null, row);
      return { subscriber: row, created: true, warnings: [] };
    }
    const warnings: Warning[] = KEPT_ON_UPSERT.filter((k) => v[k] !== undefined).map((k) => ({
      code: "parameter_ignored" as const,
      param: k,
      message: `${k} is kept on an existing subscriber (upsert) and was ignored`,
    }));
    const patch: Partial<Subscriber> = {};
    for (const k of ["first_name", "last_name", "ip_address", "confirmed_at"] as const) if (v[k] !== undefined) patch[k] = v[k] as never;
    if (v.confirmation_sent_at !== undefined && existing.confirmed_at === null) patch.confirmation_sent_at = v.confirmation_sent_at;
    if (v.tags) patch.tags = mergeTags(existing.tags, v.tags);
    if (v.custom_data) patch.custom_data = { ...existing.custom_data, ...v.custom_data };
    return { subscriber: applyPatch(deps, db, channel, existing, patch, now), created: false, warnings };
  });
}

export interface UpdateOptions {
  /** `custom_data_mode: "merge"` merges custom_data instead of replacing it. */
  mergeCustomData: boolean;
}

/**
 * PATCH (§3): `email` renames, `tags` and `custom_data` replace (custom_data merges with
 * `mergeCustomData`), `null` clears. Emits `subscriber.updated` when something changed.
 * @throws 422 when the new email is taken in the channel or merged custom_data is too big.
 */
export function updateSubscriber(deps: Deps, channel: Channel, current: Subscriber, v: SubscriberValues, o: UpdateOptions): Subscriber {
  return atomically(deps, undefined, (db) => {
    if (v.email !== undefined && v.email !== current.email && findByEmail(deps.db, channel.id, v.email)) {
      throw unprocessable("Email has already been taken", { errors: { email: ["has already been taken"] } });
    }
    const patch: Partial<Subscriber> = {};
    for (const k of ["email", "first_name", "last_name", "ip_address", "is_active", "source", "subscribed_at"] as const) {
      if (v[k] !== undefined) patch[k] = v[k] as never;
    }
    if (v.tags !== undefined) patch.tags = v.tags ?? [];
    if (v.custom_data !== undefined) patch.custom_data = o.mergeCustomData && v.custom_data ? { ...current.custom_data, ...v.custom_data } : (v.custom_data ?? {});
    return applyPatch(deps, db, channel, current, patch, deps.clock.now());
  });
}

/**
 * Writes the fields of `patch` that differ from `current`, syncs tags and appends `types` events
 * (`subscriber.updated` by default); returns `current` untouched when nothing changed.
 */
export function applyPatch(
  deps: Deps, db: Db, channel: Channel, current: Subscriber, patch: Partial<Subscriber>, now: number,
  types: SubscriberEventType[] = ["subscriber.updated"],
  broadcastId: number | null = null,
): Subscriber {
  const changed = Object.fromEntries(
    Object.entries(patch).filter(([k, val]) => JSON.stringify(val) !== JSON.stringify(current[k as keyof Subscriber])),
  ) as Partial<Subscriber>;
  if (Object.keys(changed).length === 0) return current;
  if (changed.custom_data) {
    const errors: FieldErrors = {};
    checkCustomDataSize(changed.custom_data, "custom_data", errors);
    if (errors.custom_data) throw validationError(errors);
  }
  if (changed.tags && changed.tags.length > MAX_TAGS) throw validationError({ tags: [`has too many tags (maximum is ${MAX_TAGS})`] });
  const row = db.update(subscribers).set({ ...changed, updated_at: now }).where(eq(subscribers.id, current.id)).returning().get()!;
  if (changed.tags) syncTags(deps.db, row.id, channel.id, current.tags, row.tags);
  appendEvents(db, deps.clock, types.map((t) => ({ ...subscriberEvent(t, channel, row), broadcastId })));
  deps.subscriberHooks.changed(deps, db, channel, current, row);
  return row;
}

/** Adds tags (POST /subscribers/add_tag; sequence steps pass their `tx`). @throws 422 past 100 tags. */
export function addTags(deps: Deps, channel: Channel, s: Subscriber, tags: string[], tx?: Db): Subscriber {
  return atomically(deps, tx, (db) => applyPatch(deps, db, channel, s, { tags: mergeTags(s.tags, tags) }, deps.clock.now()));
}

/** Removes tags (DELETE /subscribers/remove_tag; sequence steps pass their `tx`); absent tags are ignored. */
export function removeTags(deps: Deps, channel: Channel, s: Subscriber, tags: string[], tx?: Db): Subscriber {
  const drop = new Set(tags);
  return atomically(deps, tx, (db) => applyPatch(deps, db, channel, s, { tags: s.tags.filter((t) => !drop.has(t)) }, deps.clock.now()));
}

/** activate / deactivate (also the sequence step, in its `tx`): sets `is_active`; emits `subscriber.updated` when it changed. */
export function setActive(deps: Deps, channel: Channel, s: Subscriber, active: boolean, tx?: Db): Subscriber {
  return atomically(deps, tx, (db) => applyPatch(deps, db, channel, s, { is_active: active }, deps.clock.now()));
}

/**
 * Sets `unsubscribed_at` (kept if already set) and `is_active:false`; emits `subscriber.unsubscribed`
 * on the change, linked to the broadcast whose unsubscribe link was used (its statistics count it).
 */
export function unsubscribe(deps: Deps, channel: Channel, s: Subscriber, broadcastId: number | null = null): Subscriber {
  if (s.unsubscribed_at !== null && !s.is_active) return s;
  return atomically(deps, undefined, (db) => {
    const now = deps.clock.now();
    return applyPatch(deps, db, channel, s, { unsubscribed_at: s.unsubscribed_at ?? now, is_active: false }, now, ["subscriber.unsubscribed"], broadcastId);
  });
}

/**
 * Makes the subscriber eligible again: clears `unsubscribed_at`, `bounced_at` and `complained_at`,
 * sets `is_active:true`; emits `subscriber.subscribed` on the change.
 * @throws 422 while the address is suppressed (channel or global list).
 */
export function resubscribe(deps: Deps, channel: Channel, s: Subscriber): Subscriber {
  const hit = isSuppressed(deps.db, channel.id, s.email);
  if (hit) throw unprocessable(`Address is suppressed (${hit.reason}); remove the suppression first`);
  return atomically(deps, undefined, (db) =>
    applyPatch(deps, db, channel, s, { unsubscribed_at: null, bounced_at: null, complained_at: null, is_active: true }, deps.clock.now(), [
      "subscriber.subscribed",
    ]),
  );
}

/** The address a redacted subscriber keeps. */
export const redactedEmail = (id: number) => `redacted-${id}@redacted.invalid`;

/**
 * Irreversibly removes the subscriber's personal data (§3): email → `redacted-<id>@redacted.invalid`,
 * names, IP and custom_data cleared, tags removed, unsubscribed; counters and timestamps kept.
 * Earlier events of the subscriber lose the address and profile too. Emits `subscriber.deleted`.
 * Idempotent.
 */
export function redactSubscriber(deps: Deps, channel: Channel, s: Subscriber): void {
  if (s.redacted_at !== null) return;
  atomically(deps, undefined, (db) => {
    const now = deps.clock.now();
    const email = redactedEmail(s.id);
    const row = db
      .update(subscribers)
      .set({
        email,
        first_name: null,
        last_name: null,
        ip_address: null,
        custom_data: {},
        tags: [],
        is_active: false,
        unsubscribed_at: s.unsubscribed_at ?? now,
        redacted_at: now,
        updated_at: now,
      })
      .where(eq(subscribers.id, s.id))
      .returning()
      .get()!;
    syncTags(deps.db, s.id, channel.id, s.tags, []);
    deps.subscriberHooks.changed(deps, db, channel, s, row);
    // Scrub the address and profile out of this subscriber's past events (feed and webhook payloads).
    db.update(events)
      .set({
        email,
        data: sql`json_replace(${events.data}, '$.recipient_email', ${email}, '$.subscriber.email', ${email},
          '$.subscriber.first_name', json('null'), '$.subscriber.last_name', json('null'), '$.subscriber.ip_address', json('null'),
          '$.subscriber.custom_data', json('null'), '$.subscriber.tags', json('[]'))`,
      })
      .where(and(eq(events.channel_id, channel.id), or(eq(events.subscriber_id, s.id), eq(events.email, s.email))))
      .run();
    appendEvents(db, deps.clock, [subscriberEvent("subscriber.deleted", channel, row)]);
  });
}
