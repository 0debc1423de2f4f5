/**
 * Broadcast fields and JSON (docs/api-reference.md §5). `html_body` is read as the flag (old docs) or as the HTML
 * body itself (new docs); `scheduled_send_at` stays text here because an offset-less time is read
 * in `scheduled_timezone`, which the service knows only once both fields are read.
 */
import { t, type Static } from "elysia";
import type { Broadcast, BroadcastStatus, Channel } from "@/db/schema";
import { BROADCAST_STATUSES } from "@/db/schema";
import { isTimeZone } from "@/features/channels/model";
import { tagsField } from "@/features/subscribers/fields";
import { f, idListField as idList, result } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { isEmail } from "@/lib/email";
import { toIso } from "@/lib/time";

const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_SEGMENTS = 50;

const bodyText = (v: unknown) => {
  if (typeof v !== "string") return result.err("must be a string");
  return Buffer.byteLength(v, "utf8") > MAX_BODY_BYTES ? result.err(`is too long (maximum is ${MAX_BODY_BYTES} bytes)`) : result.ok(v);
};

/** Kept as text: an offset-less time is read in `scheduled_timezone` (schedule.ts). */
function scheduledAt<const O extends { nullable?: true; required?: true }>(o: O) {
  const read = (v: unknown) => (typeof v === "string" && /^\d{4}-\d{2}-\d{2}/.test(v.trim()) ? result.ok(v.trim()) : result.err("is not a valid ISO-8601 time"));
  return f.custom(read, { ...o, schema: { type: "string", description: "ISO-8601; without an offset it is read in scheduled_timezone" } });
}

const timeZone = f.custom((v) => (typeof v === "string" && isTimeZone(v) ? result.ok(v) : result.err("is not a valid IANA time zone")), {
  nullable: true,
  schema: { type: "string", description: "IANA time zone (UTC)" },
});

/** `true`/`false`, or the HTML body as a string. */
export type HtmlBody = { flag: boolean } | { html: string };

export const BroadcastFields = {
  subject: f.string({ required: true, max: 998, trim: false }),
  // Required unless `html_body` carries the body (checked by the service).
  body: f.custom(bodyText, { schema: { type: "string", description: "HTML or text with Liquid, at most 1 MiB" } }),
  name: f.string({ max: 255, nullable: true }),
  preheader: f.string({ max: 255, nullable: true, trim: false }),
  html_body: f.custom<HtmlBody, { schema: Record<string, unknown> }>(
    (v) => {
      if (typeof v === "string" && !/^(true|false|1|0)$/.test(v)) {
        const r = bodyText(v);
        return "error" in r ? r : result.ok({ html: v });
      }
      const b = v === true || v === 1 || v === "true" || v === "1" ? true : v === false || v === 0 || v === "false" || v === "0" ? false : null;
      return b === null ? result.err("must be true, false or an HTML string") : result.ok({ flag: b });
    },
    { schema: { anyOf: [{ type: "boolean" }, { type: "string" }], description: "true/false (the body is HTML), or the HTML body itself" } },
  ),
  reply_to: f.custom((v) => (typeof v === "string" && isEmail(v.trim()) ? result.ok(v.trim()) : result.err("is invalid")), {
    nullable: true,
    schema: { type: "string", format: "email" },
  }),
  track_opens: f.boolean(),
  track_clicks: f.boolean(),
  include_unsubscribe_link: f.boolean(),
  segment_ids: idList(MAX_SEGMENTS),
  excluded_segment_ids: idList(MAX_SEGMENTS),
  email_server_ids: idList(MAX_SEGMENTS),
  tags: tagsField(),
  taggify_list: tagsField(),
  scheduled_send_at: scheduledAt({ nullable: true }),
  scheduled_timezone: timeZone,
};

/** `schedule_broadcast` body. */
export const ScheduleFields = { scheduled_send_at: scheduledAt({ required: true }), scheduled_timezone: timeZone };

export const BroadcastFilterFields = { status: f.enum(BROADCAST_STATUSES) };

const Status = t.Union(BROADCAST_STATUSES.map((s) => t.Literal(s)));
const Ids = t.Array(Int());

/** The §5 broadcast object. */
export const BroadcastSchema = Strict({
  id: Int(),
  channel: t.String(),
  name: t.String(),
  subject: t.String(),
  preheader: Nullable(t.String()),
  body: t.String(),
  html_body: t.Boolean(),
  reply_to: Nullable(t.String()),
  status: Status,
  track_opens: t.Boolean(),
  track_clicks: t.Boolean(),
  include_unsubscribe_link: t.Boolean(),
  segment_ids: Ids,
  excluded_segment_ids: Ids,
  email_server_ids: Ids,
  tags: t.Array(t.String()),
  total_recipients: Int(),
  broadcast_recipients_count: Int({ description: "Recipients handed to the outbox so far" }),
  percentage_complete: t.Number({ description: "broadcast_recipients_count of total_recipients, in % (2 decimals)" }),
  scheduled_send_at: Time,
  scheduled_timezone: Nullable(t.String()),
  sent_at: Time,
  failure_reason: Nullable(t.String()),
  created_at: Time,
  updated_at: Time,
});
export type BroadcastJson = Static<typeof BroadcastSchema>;

/** A row of the list (§5: the summary fields only). */
export const BroadcastSummarySchema = Strict({
  id: Int(),
  channel: t.String(),
  name: t.String(),
  subject: t.String(),
  status: Status,
  total_recipients: Int(),
  sent_at: Time,
  created_at: Time,
});

export const SendResultSchema = Strict({ id: Int(), message: t.String(), status: Status });

const percent = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100);

export function encodeBroadcast(b: Broadcast, channel: Pick<Channel, "slug">): BroadcastJson {
  return {
    id: b.id,
    channel: channel.slug,
    name: b.name,
    subject: b.subject,
    preheader: b.preheader,
    body: b.body,
    html_body: b.html_body,
    reply_to: b.reply_to,
    status: b.status,
    track_opens: b.track_opens,
    track_clicks: b.track_clicks,
    include_unsubscribe_link: b.include_unsubscribe_link,
    segment_ids: b.segment_ids,
    excluded_segment_ids: b.excluded_segment_ids,
    email_server_ids: b.email_server_ids,
    tags: b.tags,
    total_recipients: b.total_recipients,
    broadcast_recipients_count: b.enqueued_count,
    percentage_complete: percent(b.enqueued_count, b.total_recipients),
    scheduled_send_at: toIso(b.scheduled_send_at),
    scheduled_timezone: b.scheduled_timezone,
    sent_at: toIso(b.sent_at),
    failure_reason: b.failure_reason,
    created_at: toIso(b.created_at),
    updated_at: toIso(b.updated_at),
  };
}

export const encodeSummary = (b: Broadcast, channel: Pick<Channel, "slug">): Static<typeof BroadcastSummarySchema> => ({
  id: b.id,
  channel: channel.slug,
  name: b.name,
  subject: b.subject,
  status: b.status,
  total_recipients: b.total_recipients,
  sent_at: toIso(b.sent_at),
  created_at: toIso(b.created_at),
});

/** The `broadcast.*` event payload (§11.1). */
export const eventBroadcast = (b: Broadcast) => ({ id: b.id, name: b.name, subject: b.subject, status: b.status, total_recipients: b.total_recipients, sent_at: toIso(b.sent_at) });

/** 422 "Broadcast can only be <action> from a, b or c (current: x)" (§1.4). */
export function stateMessage(action: string, allowed: readonly BroadcastStatus[], current: BroadcastStatus): string {
  const list = allowed.length > 1 ? `${allowed.slice(0, -1).join(", ")} or ${allowed[allowed.length - 1]}` : allowed[0];
  return `Broadcast can only be ${action} from ${list} (current: ${current})`;
}

const Rate = t.Number({ description: "% of delivery.sent, 2 decimals" });
const Engagement = Strict({ count: Int(), unique: Int(), rate: Rate });
export const StatisticsSchema = Strict({
  id: Int(),
  status: Status,
  delivery: Strict({ recipients: Int(), sent: Int(), delivered: Int(), failed: Int(), pending: Int(), delivery_rate: Rate }),
  engagement: Strict({ opens: Engagement, clicks: Engagement }),
  issues: Strict({
    bounces: Strict({ count: Int(), hard: Int(), rate: Rate }),
    complaints: Strict({ count: Int(), rate: Rate }),
    unsubscribes: Strict({ count: Int(), rate: Rate }),
  }),
});
export const TimelineSchema = Strict({
  timeframe: t.String(),
  interval_seconds: Int(),
  starts_at: t.String({ format: "date-time" }),
  series: t.Array(Strict({ metric: t.String(), points: t.Array(Strict({ t: t.String({ format: "date-time" }), count: Int() })) })),
});
export const LinksSchema = Strict({ links: t.Array(Strict({ url: t.String(), clicks: Int(), unique_clicks: Int() })) });
