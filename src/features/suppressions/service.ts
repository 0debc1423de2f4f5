/**
 * Suppressions (docs/api-reference.md §12): the channel lists and the global list (`channel_id` null). Suppressed
 * addresses get nothing from the channel; reads go through `isSuppressed` (subscribers/eligibility).
 * `channelId: null` everywhere below means the global list.
 */
import { and, asc, count, eq, inArray, isNull, sql, type SQL } from "drizzle-orm";
import { changes, type Db } from "@/db/client";
import { suppressions, type Suppression } from "@/db/schema";
import type { Deps } from "@/deps";
import { recordComplaint, type SuppressionReason } from "@/features/subscribers/eligibility";
import { toIso } from "@/lib/time";
import { isEmail, normalizeEmail } from "@/lib/email";
import type { SuppressionJson } from "./model";

export const MAX_BULK_EMAILS = 10_000;
const MAX_LISTED_INVALID = 100;
export const REASONS = ["manual", "hard_bounce", "complaint"] as const;
export type SuppressionSource = "api" | "dashboard" | "delivery";

/** The §12 object; global rows have `channel: null`. */
export function encodeSuppression(row: Suppression, slug: string | null): SuppressionJson {
  return { id: row.id, channel: slug, email: row.email, reason: row.reason, source: row.source, created_at: toIso(row.created_at) };
}

const onList = (channelId: number | null): SQL => (channelId === null ? isNull(suppressions.channel_id) : eq(suppressions.channel_id, channelId));

export interface SuppressionFilters {
  /** Part of the address. */
  email?: string;
  reason?: SuppressionReason;
}

/** A page of the channel lists of `channelIds` (or the global list for `null`), ordered by id. */
export function listSuppressions(deps: Deps, channelIds: readonly number[] | null, filters: SuppressionFilters, limit: number, offset: number) {
  const conds: SQL[] = [channelIds === null ? isNull(suppressions.channel_id) : inArray(suppressions.channel_id, [...channelIds])];
  if (filters.email) conds.push(sql`instr(${suppressions.email}, ${filters.email.trim().toLowerCase()}) > 0`);
  if (filters.reason) conds.push(eq(suppressions.reason, filters.reason));
  const where = and(...conds);
  const rows = deps.db.select().from(suppressions).where(where).orderBy(asc(suppressions.id)).limit(limit).offset(offset).all();
  const total = rows.length < limit && (rows.length > 0 || offset === 0) ? offset + rows.length : deps.db.select({ n: count() }).from(suppressions).where(where).get()!.n;
  return { rows, total };
}

/**
 * Adds `email` (stored form) to a list; an existing entry is returned unchanged (`created:false`).
 * A new channel `complaint` entry applies the complaint side effects (§12).
 */
export function addSuppression(deps: Deps, channelId: number | null, email: string, reason: SuppressionReason, source: SuppressionSource) {
  return deps.db.transaction((tx) => {
    const db = tx as unknown as Db;
    const inserted = db
      .insert(suppressions)
      .values({ channel_id: channelId, email, reason, source, created_at: deps.clock.now() })
      .onConflictDoNothing()
      .returning()
      .get();
    if (inserted && reason === "complaint" && channelId !== null) recordComplaint(deps, db, channelId, email);
    const row = inserted ?? db.select().from(suppressions).where(and(onList(channelId), eq(suppressions.email, email))).get()!;
    return { row, created: !!inserted };
  });
}

/** Removes `email` from a list; false when it was not there. Other lists are left alone. */
export function removeSuppression(deps: Deps, channelId: number | null, email: string): boolean {
  return changes(deps.db.delete(suppressions).where(and(onList(channelId), eq(suppressions.email, email))).run()) > 0;
}

/** Splits raw bulk input into stored-form addresses and the invalid values as sent. */
function partition(emails: readonly unknown[]) {
  const valid: string[] = [];
  const invalid: unknown[] = [];
  for (const raw of emails) {
    const email = typeof raw === "string" ? normalizeEmail(raw) : null;
    if (email !== null && isEmail(email)) valid.push(email);
    else invalid.push(raw);
  }
  return { valid, invalid };
}

/** Bulk add (idempotent; reason `manual`) in one transaction. */
export function bulkAddSuppressions(deps: Deps, channelId: number | null, emails: readonly unknown[], source: SuppressionSource) {
  const { valid, invalid } = partition(emails);
  let added = 0;
  deps.db.transaction(() => {
    const insert = deps.db
      .insert(suppressions)
      .values({ channel_id: channelId, email: sql.placeholder("email") as never, reason: "manual", source, created_at: deps.clock.now() })
      .onConflictDoNothing()
      .prepare();
    for (const email of valid) added += changes(insert.run({ email }));
  });
  return { added, already_suppressed: valid.length - added, invalid: invalid.length, invalid_emails: invalid.slice(0, MAX_LISTED_INVALID) };
}

/** Bulk remove in one transaction; invalid or absent addresses count as `not_found`. */
export function bulkRemoveSuppressions(deps: Deps, channelId: number | null, emails: readonly unknown[]) {
  const { valid } = partition(emails);
  let removed = 0;
  deps.db.transaction(() => {
    const del = deps.db
      .delete(suppressions)
      .where(and(onList(channelId), eq(suppressions.email, sql.placeholder("email"))))
      .prepare();
    for (const email of valid) removed += changes(del.run({ email }));
  });
  return { removed, not_found: emails.length - removed };
}
