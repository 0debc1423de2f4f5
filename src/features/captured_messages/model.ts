import type { CapturedMessage } from "@/db/schema";
import { toIso } from "@/lib/time";

/** The list/show object of API.md §18 (without `headers`/`html`/`text`, which come from the raw MIME). */
export function encodeCaptured(row: Omit<CapturedMessage, "raw">, channelSlug: string) {
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

export type CapturedJson = ReturnType<typeof encodeCaptured>;
