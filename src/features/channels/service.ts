/**
 * Channels (docs/api-reference.md §15): tenants. Every write invalidates the auth cache (slugs and assignments
 * are part of channel resolution) and is recorded in the audit log.
 */
import { count, eq, inArray } from "drizzle-orm";
import { channelRef, lookupChannels, type Scope } from "@/auth/scope";
import { channels, type Channel } from "@/db/schema";
import type { Deps } from "@/deps";
import { notFound, unprocessable, validationError } from "@/lib/errors";
import { diff, recordAudit, type AuditContext } from "@/features/audit_log/service";
import type { FieldValues } from "@/input/fields";
import { slugify, type ChannelFields } from "./model";

/** Channels of T, ordered by id, with the total. */
export function listChannels(deps: Deps, scope: Scope, limit: number, offset: number) {
  const ids = [...scope.channelIds];
  const rows = deps.db.select().from(channels).where(inArray(channels.id, ids)).orderBy(channels.id).limit(limit).offset(offset).all();
  return { rows, total: ids.length };
}

/**
 * A channel by id or slug (§1.6 lookup: 403 outside a channel-scoped token's assignment, 404 unknown
 * for scope `all`); a channel the request's selectors left out of T is 404 too.
 */
export function getChannel(deps: Deps, scope: Scope, idOrSlug: string): Channel {
  const [channel] = lookupChannels(scope.principal, deps.auth.cache, [channelRef(idOrSlug)]);
  if (!scope.has(channel.id)) throw notFound("Channel");
  return channel;
}

function assertSlugFree(deps: Deps, slug: string, exceptId?: number) {
  const existing = deps.db.select({ id: channels.id }).from(channels).where(eq(channels.slug, slug)).get();
  if (existing && existing.id !== exceptId) throw validationError({ slug: ["has already been taken"] });
}

/** Creates a channel (scope `all` is checked by the route). */
export function createChannel(deps: Deps, values: FieldValues<typeof ChannelFields>, ctx: AuditContext): Channel {
  const now = deps.clock.now();
  const slug = values.slug ?? uniqueSlug(deps, slugify(values.name));
  assertSlugFree(deps, slug);
  const row = deps.db.transaction((tx) => {
    const created = tx
      .insert(channels)
      .values({ ...values, slug, created_at: now, updated_at: now })
      .returning()
      .get();
    recordAudit(tx, deps.clock, { ...ctx, action: "channel.created", target: { type: "channel", id: created.id, label: created.slug }, channel: created.slug });
    return created;
  });
  deps.auth.cache.invalidate();
  return row;
}

function uniqueSlug(deps: Deps, base: string): string {
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? base : `${base.slice(0, 50 - String(i).length - 1)}-${i}`;
    if (!deps.db.select({ id: channels.id }).from(channels).where(eq(channels.slug, candidate)).get()) return candidate;
  }
}

/** Updates a channel; the slug is immutable. A changed quota wakes the release of mail it deferred (§1.8). */
export function updateChannel(deps: Deps, channel: Channel, values: FieldValues<typeof ChannelFields, true>, ctx: AuditContext): Channel {
  const { slug: _immutable, ...changes } = values;
  const row = deps.db.transaction((tx) => {
    const updated = tx
      .update(channels)
      .set({ ...changes, updated_at: deps.clock.now() })
      .where(eq(channels.id, channel.id))
      .returning()
      .get();
    recordAudit(tx, deps.clock, {
      ...ctx,
      action: "channel.updated",
      target: { type: "channel", id: channel.id, label: channel.slug },
      channel: channel.slug,
      changes: diff(channel as never, changes),
    });
    return updated;
  });
  deps.auth.cache.invalidate();
  if (changes.monthly_send_quota !== undefined) deps.outbox.quotaFreed();
  return row;
}

/**
 * Deletes a channel and all its data (foreign keys cascade), dropping it from token assignments.
 * @throws 422 wrong `confirm` or last channel.
 */
export function deleteChannel(deps: Deps, channel: Channel, confirm: string | null | undefined, ctx: AuditContext): void {
  if (confirm !== channel.slug) throw validationError({ confirm: [`must equal the channel slug (${channel.slug})`] });
  if (deps.db.select({ n: count() }).from(channels).get()!.n <= 1) throw unprocessable("Cannot delete the last channel");
  deps.db.transaction((tx) => {
    tx.delete(channels).where(eq(channels.id, channel.id)).run();
    recordAudit(tx, deps.clock, { ...ctx, action: "channel.deleted", target: { type: "channel", id: channel.id, label: channel.slug }, channel: channel.slug });
  });
  deps.auth.cache.invalidate();
}
