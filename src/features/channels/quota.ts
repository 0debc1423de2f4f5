/**
 * Monthly send quota (docs/api-reference.md §1.8), the one service every send path calls (transactional API,
 * SMTP, broadcasts, sequences, confirmations). Usage is a counter per channel and UTC month,
 * charged inside the caller's transaction so a rollback un-charges it.
 */
import { and, eq, sql } from "drizzle-orm";
import { perConnection, type Db } from "@/db/client";
import { quota_usage, type Channel } from "@/db/schema";
import { AppError } from "@/lib/errors";
import { toIso, utcMonthBounds } from "@/lib/time";

export interface QuotaState {
  used: number;
  cap: number | null;
  remaining: number | null;
  resetsAt: string;
}

/** The UTC month of `ms` ("2026-12") and when it ends, remembered for the month (every send asks). */
let lastMonth = { start: 0, end: 0, key: "", resetsAt: "" };
function monthOf(ms: number) {
  if (ms < lastMonth.start || ms >= lastMonth.end) {
    const { start, end } = utcMonthBounds(ms);
    lastMonth = { start, end, key: new Date(ms).toISOString().slice(0, 7), resetsAt: toIso(end)! };
  }
  return lastMonth;
}

const prepared = perConnection((db: Db) => {
  const month = sql.placeholder("month");
  const channel = sql.placeholder("channel");
  const cap = sql.placeholder("cap");
  return {
    used: db.select({ used: quota_usage.used }).from(quota_usage).where(and(eq(quota_usage.channel_id, channel), eq(quota_usage.month, month))).prepare(),
    /** Adds `units` unless that passes `cap` (null: no cap); returns the new usage, or no row when it would pass. */
    chargeUnderCap: db
      .insert(quota_usage)
      .values({ channel_id: channel, month, used: sql.placeholder("units") })
      .onConflictDoUpdate({
        target: [quota_usage.channel_id, quota_usage.month],
        set: { used: sql`${quota_usage.used} + excluded.used` },
        setWhere: sql`${cap} IS NULL OR ${quota_usage.used} + excluded.used <= ${cap}`,
      })
      .returning({ used: quota_usage.used })
      .prepare(),
  };
});

/** Usage of the channel's current month. */
export function peekQuota(db: Db, channel: Channel, now: number): QuotaState {
  const row = prepared(db).used.get({ channel: channel.id, month: monthOf(now).key });
  return state(channel, row?.used ?? 0, now);
}

/**
 * Charges `units` (one per recipient) to the channel's month, all or nothing.
 * @throws 402 when the cap would be exceeded (nothing charged).
 */
export function chargeQuota(db: Db, channel: Channel, units: number, now: number): QuotaState {
  const charged = chargeIfRoom(db, channel, units, now);
  if (charged) return charged;
  const { remaining } = peekQuota(db, channel, now);
  throw units > 1 && remaining! > 0
    ? new AppError("payment_required", "Payment Required", { message: `Monthly send quota insufficient: ${units} recipients, ${remaining} remaining` })
    : new AppError("payment_required", "Payment Required", { message: "Monthly send quota exhausted" });
}

/**
 * Charges `units` when the month has room for all of them; null (nothing charged) when not. System
 * mail uses this to wait as `deferred` instead of failing (quota-release.ts in the outbox releases it).
 */
export function chargeIfRoom(db: Db, channel: Channel, units: number, now: number): QuotaState | null {
  const cap = channel.monthly_send_quota;
  // The statement checks the cap only when the month already has a row; a first charge is checked here.
  if (cap !== null && units > cap) return null;
  const row = prepared(db).chargeUnderCap.get({ channel: channel.id, month: monthOf(now).key, units, cap });
  return row ? state(channel, row.used, now) : null;
}

function state(channel: Channel, used: number, now: number): QuotaState {
  const cap = channel.monthly_send_quota;
  return { used, cap, remaining: cap === null ? null : Math.max(0, cap - used), resetsAt: monthOf(now).resetsAt };
}

/** X-Quota-Used, and with a cap X-Quota-Cap/-Remaining and X-Quota-Warning at ≥ 80 %. */
export function quotaHeaders(q: QuotaState): Record<string, string> {
  const headers: Record<string, string> = { "x-quota-used": String(q.used) };
  if (q.cap !== null) {
    headers["x-quota-cap"] = String(q.cap);
    headers["x-quota-remaining"] = String(q.remaining);
    if (q.used >= 0.8 * q.cap) headers["x-quota-warning"] = "1";
  }
  return headers;
}
