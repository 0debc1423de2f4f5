/**
 * Sequence fields and JSON (docs/api-reference.md §6): the sequence object and an enrollment of
 * `list_subscribers`. Step fields and JSON are in steps.ts.
 */
import { t, type Static } from "elysia";
import { ENROLLMENT_STATUSES, type Enrollment, type Sequence } from "@/db/schema";
import { MAX_TAG_LENGTH } from "@/features/subscribers/fields";
import { f, idListField } from "@/input/fields";
import { Int, Nullable, Strict, Time, Warnings } from "@/input/schemas";
import { toIso } from "@/lib/time";

const MAX_EMAIL_SERVERS = 50;

export const SequenceFields = {
  label: f.string({ required: true, max: 255 }),
  active: f.boolean(),
  track_opens: f.boolean(),
  track_clicks: f.boolean(),
  use_any_email_server: f.boolean(),
  email_server_ids: idListField(MAX_EMAIL_SERVERS),
  // A tag as subscribers carry it (§3): the same length limit, no commas.
  init_tag: f.string({ nullable: true, min: 1, max: MAX_TAG_LENGTH, pattern: /^[^,]*$/ }),
  init_segment_id: f.integer({ nullable: true, min: 1 }),
};

/** The §6 sequence object. */
export const SequenceSchema = Strict({
  id: Int(),
  channel: t.String(),
  label: t.String(),
  active: t.Boolean(),
  track_opens: t.Boolean(),
  track_clicks: t.Boolean(),
  use_any_email_server: t.Boolean(),
  email_server_ids: t.Array(Int()),
  init_tag: Nullable(t.String()),
  init_segment_id: Nullable(Int()),
  entry_point_id: Int(),
  subscribers_count: Int({ description: "Open (active or paused) enrollments" }),
  created_at: Time,
  updated_at: Time,
});
export type SequenceJson = Static<typeof SequenceSchema>;

export function encodeSequence(s: Sequence, slug: string, subscribersCount: number): SequenceJson {
  return {
    id: s.id,
    channel: slug,
    label: s.label,
    active: s.active,
    track_opens: s.track_opens,
    track_clicks: s.track_clicks,
    use_any_email_server: s.use_any_email_server,
    email_server_ids: s.email_server_ids,
    init_tag: s.init_tag,
    init_segment_id: s.init_segment_id,
    entry_point_id: s.entry_point_id!,
    subscribers_count: subscribersCount,
    created_at: toIso(s.created_at),
    updated_at: toIso(s.updated_at),
  };
}

/** An enrollment (`subscriber_sequences` row) with its subscriber. */
export const EnrollmentSchema = Strict({
  id: Int(),
  sequence_id: Int(),
  status: t.Union(ENROLLMENT_STATUSES.map((s) => t.Literal(s))),
  started_at: Time,
  completed_at: Time,
  next_trigger_at: Time,
  current_step_id: Nullable(Int()),
  subscriber: Strict({ id: Int(), email: t.String() }),
});

export function encodeEnrollment(e: Enrollment, subscriber: { id: number; email: string }): Static<typeof EnrollmentSchema> {
  return {
    id: e.id,
    sequence_id: e.sequence_id,
    status: e.status,
    started_at: toIso(e.started_at),
    completed_at: toIso(e.completed_at),
    next_trigger_at: toIso(e.next_trigger_at),
    current_step_id: e.current_step_id,
    subscriber: { id: subscriber.id, email: subscriber.email },
  };
}

/** `list_subscribers`: pagy's envelope (`count` = every matching enrollment, not the page's rows). */
export const EnrollmentPageSchema = Strict({
  subscriber_sequences: t.Array(EnrollmentSchema),
  pagination: Strict({ prev: Nullable(Int()), next: Nullable(Int()), count: Int(), pages: Int(), page: Int() }),
  warnings: t.Optional(Warnings),
});

export function pagyPagination(count: number, page: number, perPage: number) {
  const pages = Math.max(1, Math.ceil(count / perPage));
  return { prev: page > 1 ? page - 1 : null, next: page < pages ? page + 1 : null, count, pages, page };
}
