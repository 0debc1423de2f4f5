/**
 * Broadcasts (docs/api-reference.md §5): CRUD in the editable states and the status machine. Every transition
 * writes its `broadcast.*` event in the transaction of the change (none for `draft`/`scheduled`;
 * entering `future_scheduled` emits `broadcast.scheduled`). Sending lives in send.ts, the fan-out
 * and the scheduler in jobs.ts.
 */
import { and, count, desc, eq, inArray } from "drizzle-orm";
import { assertInScope, requireSomeChannel, type Scope } from "@/auth/scope";
import type { Db } from "@/db/client";
import { idsInChannel } from "@/db/owned";
import { broadcasts, email_servers, segments, type Broadcast, type BroadcastStatus, type Channel } from "@/db/schema";
import type { Deps } from "@/deps";
import { peekQuota } from "@/features/channels/quota";
import { broadcastEvent } from "@/features/events/catalogue";
import { appendEvent } from "@/features/events/service";
import { AppError, notFound, unprocessable, validationError, type FieldErrors } from "@/lib/errors";
import { checkLiquid } from "@/lib/liquid";
import type { FieldValues } from "@/input/fields";
import { eventBroadcast, stateMessage, type BroadcastFields } from "./model";
import { scheduledTime } from "./schedule";

type Values = FieldValues<typeof BroadcastFields, true>;

export const EDITABLE: readonly BroadcastStatus[] = ["draft", "future_scheduled"];
const DELETABLE: readonly BroadcastStatus[] = ["draft", "future_scheduled", "failed"];

/** Broadcasts of T, newest first, optionally of one status. */
export function listBroadcasts(deps: Deps, scope: Scope, status: BroadcastStatus | undefined, limit: number, offset: number) {
  requireSomeChannel(scope);
  const where = and(inArray(broadcasts.channel_id, [...scope.channelIds]), status ? eq(broadcasts.status, status) : undefined);
  const rows = deps.db.select().from(broadcasts).where(where).orderBy(desc(broadcasts.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(broadcasts).where(where).get()!.n;
  return { rows, total };
}

/** A broadcast of T. @throws 404 "Broadcast not found". */
export function getBroadcast(deps: Deps, scope: Scope, id: number): Broadcast {
  const row = deps.db.select().from(broadcasts).where(eq(broadcasts.id, id)).get();
  if (!row) throw notFound("Broadcast");
  assertInScope(scope, row.channel_id, "Broadcast");
  return row;
}

/**
 * Moves `b` to `status` (with `extra` columns) and records its event. Returns the updated row.
 */
export function transition(deps: Deps, db: Db, b: Broadcast, status: BroadcastStatus, extra: Partial<Broadcast> = {}): Broadcast {
  const row = db
    .update(broadcasts)
    .set({ ...extra, status, updated_at: deps.clock.now() })
    .where(eq(broadcasts.id, b.id))
    .returning()
    .get()!;
  if (status !== "draft" && status !== "scheduled") {
    const type = status === "future_scheduled" ? "broadcast.scheduled" : (`broadcast.${status}` as const);
    appendEvent(db, deps.clock, broadcastEvent(type, row.channel_id, deps.auth.cache.slugOf(row.channel_id) ?? "", eventBroadcast(row)));
  }
  return row;
}

/** @throws 422 naming the current state unless `b` is in one of `allowed`. */
export function requireStatus(b: Broadcast, action: string, allowed: readonly BroadcastStatus[]): void {
  if (!allowed.includes(b.status)) throw unprocessable(stateMessage(action, allowed, b.status));
}

/** @throws 402 when the channel's monthly quota is used up (a schedule could never run). */
export function requireQuotaLeft(deps: Deps, channel: Channel): void {
  const q = peekQuota(deps.db, channel, deps.clock.now());
  if (q.remaining === 0) throw new AppError("payment_required", "Payment Required", { message: "Monthly send quota exhausted" });
}

/** Column values of the present fields, checked against the channel (segments, servers, Liquid). */
function columns(deps: Deps, channelId: number, v: Values, current: Broadcast | null): Partial<Broadcast> {
  const errors: FieldErrors = {};
  const out: Partial<Broadcast> = {};
  for (const key of ["subject", "preheader", "reply_to", "track_opens", "track_clicks", "include_unsubscribe_link"] as const) {
    if (v[key] !== undefined) (out as Record<string, unknown>)[key] = v[key];
  }
  if (v.body !== undefined) out.body = v.body;
  if (v.html_body && "html" in v.html_body) Object.assign(out, { body: v.html_body.html, html_body: true });
  else if (v.html_body) out.html_body = v.html_body.flag;
  if (v.name !== undefined) out.name = v.name ?? v.subject ?? current?.subject;
  if (v.tags !== undefined || v.taggify_list !== undefined) out.tags = [...new Set([...(v.tags ?? []), ...(v.taggify_list ?? [])])].sort();
  for (const key of ["segment_ids", "excluded_segment_ids"] as const) {
    if (v[key] === undefined) continue;
    const ids = (out[key] = v[key] ?? []);
    const known = new Set(idsInChannel(deps.db, segments, channelId, ids));
    ids.forEach((id, i) => known.has(id) || (errors[`${key}.${i}`] = ["does not exist in this channel"]));
  }
  if (v.email_server_ids !== undefined) {
    const ids = (out.email_server_ids = v.email_server_ids ?? []);
    const known = new Set(idsInChannel(deps.db, email_servers, channelId, ids));
    ids.forEach((id, i) => known.has(id) || (errors[`email_server_ids.${i}`] = ["does not exist in this channel"]));
  }
  const included = out.segment_ids ?? current?.segment_ids ?? [];
  const both = (out.excluded_segment_ids ?? current?.excluded_segment_ids ?? []).filter((id) => included.includes(id));
  if (both.length) errors.excluded_segment_ids = [`can't also be in segment_ids (${both.join(", ")})`];
  for (const key of ["subject", "preheader", "body"] as const) {
    const message = checkLiquid(out[key] as string | null | undefined);
    if (message) errors[key] = [message];
  }
  if (Object.keys(errors).length) throw validationError(errors);
  return out;
}

/** The schedule columns of present schedule fields: a time makes it `future_scheduled`, `null` a draft. */
function schedule(deps: Deps, v: Values, current: Broadcast | null): { status: BroadcastStatus; at: number | null; zone: string | null } | null {
  if (v.scheduled_send_at === undefined && v.scheduled_timezone === undefined) return null;
  const zone = v.scheduled_timezone !== undefined ? v.scheduled_timezone : (current?.scheduled_timezone ?? null);
  if (v.scheduled_send_at === null || (v.scheduled_send_at === undefined && !current?.scheduled_send_at)) return { status: "draft", at: null, zone };
  if (v.scheduled_send_at === undefined) return { status: "future_scheduled", at: current!.scheduled_send_at, zone };
  return { status: "future_scheduled", at: scheduledTime(v.scheduled_send_at, zone, deps.clock.now()), zone };
}

/** Creates a draft, or a `future_scheduled` broadcast when `scheduled_send_at` is given. */
export function createBroadcast(deps: Deps, channel: Channel, v: Values): Broadcast {
  if (v.body === undefined && !(v.html_body && "html" in v.html_body)) throw validationError({ body: ["can't be blank"] });
  const cols = columns(deps, channel.id, v, null);
  const when = schedule(deps, v, null);
  if (when?.status === "future_scheduled") requireQuotaLeft(deps, channel);
  const now = deps.clock.now();
  return deps.db.transaction((tx) => {
    const row = tx
      .insert(broadcasts)
      .values({
        channel_id: channel.id,
        name: cols.name ?? v.subject!,
        subject: v.subject!,
        body: cols.body!,
        segment_ids: [],
        excluded_segment_ids: [],
        email_server_ids: [],
        tags: [],
        ...cols,
        scheduled_send_at: when?.at ?? null,
        scheduled_timezone: when?.zone ?? null,
        created_at: now,
        updated_at: now,
      })
      .returning()
      .get();
    return when?.status === "future_scheduled" ? transition(deps, tx, row, "future_scheduled") : row;
  });
}

/** Updates present fields of a draft or future_scheduled broadcast. @throws 422 in any other state. */
export function updateBroadcast(deps: Deps, channel: Channel, b: Broadcast, v: Values): Broadcast {
  requireStatus(b, "updated", EDITABLE);
  const cols = columns(deps, b.channel_id, v, b);
  const when = schedule(deps, v, b);
  if (when?.status === "future_scheduled" && b.status !== "future_scheduled") requireQuotaLeft(deps, channel);
  return deps.db.transaction((tx) => {
    const scheduleCols = when ? { scheduled_send_at: when.at, scheduled_timezone: when.zone } : {};
    const status = when?.status ?? b.status;
    if (status !== b.status) return transition(deps, tx, b, status, { ...cols, ...scheduleCols });
    return tx
      .update(broadcasts)
      .set({ ...cols, ...scheduleCols, updated_at: deps.clock.now() })
      .where(eq(broadcasts.id, b.id))
      .returning()
      .get()!;
  });
}

/** Deletes a broadcast that is not sending. @throws 422 unless draft, future_scheduled or failed. */
export function deleteBroadcast(deps: Deps, b: Broadcast): void {
  requireStatus(b, "deleted", DELETABLE);
  deps.db.delete(broadcasts).where(eq(broadcasts.id, b.id)).run();
}

/** `schedule_broadcast`: a draft (or a rescheduled future one) starts at the given time. */
export function scheduleBroadcast(deps: Deps, channel: Channel, b: Broadcast, at: string, zone: string | null | undefined): Broadcast {
  requireStatus(b, "scheduled", EDITABLE);
  const when = scheduledTime(at, zone ?? null, deps.clock.now());
  requireQuotaLeft(deps, channel);
  return deps.db.transaction((tx) => transition(deps, tx, b, "future_scheduled", { scheduled_send_at: when, scheduled_timezone: zone ?? null }));
}

/** `cancel_schedule`: back to draft. */
export function cancelSchedule(deps: Deps, b: Broadcast): Broadcast {
  requireStatus(b, "unscheduled", ["future_scheduled"]);
  return deps.db.transaction((tx) => transition(deps, tx, b, "draft", { scheduled_send_at: null, scheduled_timezone: null }));
}
