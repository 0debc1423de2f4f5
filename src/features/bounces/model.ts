/** The JSON of GET /api/v1/inbound_messages (docs/api-reference.md §12, Mailroom extension). */
import { t, type Static } from "elysia";
import { INBOUND_CLASSIFICATIONS, type InboundMessage } from "@/db/schema";
import { f } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { toIso } from "@/lib/time";

export const INBOUND_RESULTS = ["applied", "duplicate", "ignored", "stored"] as const;

export const InboundFilterFields = {
  classification: f.enum(INBOUND_CLASSIFICATIONS),
  result: f.enum(INBOUND_RESULTS),
};

const Enum = <T extends string>(values: readonly T[]) => t.Union(values.map((v) => t.Literal(v)));

export const InboundMessageSchema = Strict({
  id: Int(),
  channel: Nullable(t.String({ description: "The channel of the message it is about; null when it is about no message of ours" })),
  outbound_message_id: Nullable(Int({ description: "The outbox message it is about (a transactional's id is this id)" })),
  classification: Enum(INBOUND_CLASSIFICATIONS),
  result: Enum(INBOUND_RESULTS),
  mail_from: Nullable(t.String({ description: "Envelope sender (null: the null sender <> of DSNs)" })),
  rcpt_to: t.String(),
  from: Nullable(t.String()),
  subject: Nullable(t.String()),
  recipient: Nullable(t.String({ description: "The recipient the report names" })),
  diagnostic: Nullable(t.String({ description: "Status and diagnostic code, or the feedback type" })),
  size: Int(),
  remote_ip: Nullable(t.String()),
  received_at: Time,
});

export function encodeInbound(row: InboundMessage, channelSlug: string | null): Static<typeof InboundMessageSchema> {
  return {
    id: row.id,
    channel: channelSlug,
    outbound_message_id: row.message_id,
    classification: row.classification,
    result: row.result,
    mail_from: row.mail_from,
    rcpt_to: row.rcpt_to,
    from: row.from_header,
    subject: row.subject,
    recipient: row.recipient,
    diagnostic: row.diagnostic,
    size: row.raw_size,
    remote_ip: row.remote_ip,
    received_at: toIso(row.received_at),
  };
}
