import { t, type Static } from "elysia";
import type { CapturedMessage } from "@/db/schema";
import { f } from "@/input/fields";
import { Int, Nullable, Pair, Strict, Time } from "@/input/schemas";
import { toIso } from "@/lib/time";

export const CapturedFilterFields = {
  to: f.string({ max: 254 }),
  subject: f.string({ max: 998, trim: false }),
  since: f.time(),
  transactional_id: f.integer({ min: 1 }),
  broadcast_id: f.integer({ min: 1 }),
};

const capturedProperties = {
  id: Int(),
  channel: t.String(),
  message_id: Nullable(t.String()),
  transactional_id: Nullable(Int()),
  broadcast_id: Nullable(Int()),
  sequence_step_id: Nullable(Int()),
  from: Nullable(t.String()),
  to: t.Array(t.String()),
  cc: t.Array(t.String()),
  subject: Nullable(t.String()),
  size: Int(),
  has_html: t.Boolean(),
  has_text: t.Boolean(),
  attachments: t.Array(Strict({ filename: Nullable(t.String()), content_type: t.String(), size: Int() })),
  received_at: Time,
};
/** The list object of docs/api-reference.md §18. */
export const CapturedSchema = Strict(capturedProperties);
/** The show object: the list object plus what the raw MIME holds. */
export const CapturedDetailSchema = Strict({
  ...capturedProperties,
  headers: t.Array(Pair(t.String(), t.String(), "[name, value]")),
  html: Nullable(t.String()),
  text: Nullable(t.String()),
});

/** The list/show object of docs/api-reference.md §18 (without `headers`/`html`/`text`, which come from the raw MIME). */
export function encodeCaptured(row: Omit<CapturedMessage, "raw">, channelSlug: string): Static<typeof CapturedSchema> {
  return {
    id: row.id,
    channel: channelSlug,
    message_id: row.message_id,
    transactional_id: row.transactional_id,
    broadcast_id: row.broadcast_id,
    sequence_step_id: row.sequence_step_id,
    from: row.from,
    to: row.to,
    cc: row.cc,
    subject: row.subject,
    size: row.size,
    has_html: row.has_html,
    has_text: row.has_text,
    attachments: row.attachments,
    received_at: toIso(row.received_at),
  };
}

export type CapturedJson = Static<typeof CapturedSchema>;
