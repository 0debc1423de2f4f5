/** Transactional send fields (docs/api-reference.md §4) and the transactional object. */
import { t, type Static } from "elysia";
import type { Message } from "@/db/schema";
import { f, result } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { isEmail } from "@/lib/email";
import { toIso } from "@/lib/time";

const MAX_BODY_BYTES = 1024 * 1024;
const TRANSACTIONAL_STATUSES_LIST = ["pending_confirmation", "queued", "sending", "sent", "deferred", "failed", "bounced"] as const;
const MAX_DATA_BYTES = 16 * 1024;

export interface Recipient {
  email: string;
  name: string | null;
}

/** `ada@example.com` or `Ada Lovelace <ada@example.com>` (name may be quoted). */
export function parseRecipient(v: unknown): { value: Recipient } | { error: string } {
  if (Array.isArray(v)) return { error: "must be a single address (one recipient per request)" };
  if (typeof v !== "string") return { error: "must be a string" };
  const s = v.trim();
  if (s === "") return { error: "can't be blank" };
  const named = /^(.*?)\s*<([^<>]+)>$/.exec(s);
  const email = (named ? named[2] : s).trim();
  const name = named ? named[1].trim().replace(/^"(.*)"$/, "$1").trim() || null : null;
  if (!isEmail(email)) return { error: "is invalid" };
  if (name && name.length > 255) return { error: "is invalid (name too long)" };
  return { value: { email, name } };
}

const bytes = (max: number) =>
  f.custom((v) => {
    if (typeof v !== "string") return result.err("must be a string");
    return Buffer.byteLength(v) > max ? result.err(`is too long (maximum is ${max} bytes)`) : result.ok(v);
  }, { nullable: true, schema: { type: "string", description: `Liquid; at most ${max} bytes` } });

const email = f.custom((v) => (typeof v === "string" && isEmail(v.trim()) ? result.ok(v.trim()) : result.err("is invalid")), {
  nullable: true,
  schema: { type: "string", format: "email" },
});

export const TransactionalFields = {
  to: f.custom((v) => {
    const r = parseRecipient(v);
    return "error" in r ? result.err(r.error) : result.ok(r.value);
  }, { required: true, schema: { type: "string", description: "ada@example.com or Ada Lovelace <ada@example.com> (one recipient)" } }),
  subject: f.string({ max: 998, nullable: true }),
  body: bytes(MAX_BODY_BYTES),
  preheader: f.string({ max: 255, nullable: true }),
  reply_to: email,
  template_id: f.integer({ min: 1, nullable: true }),
  data: f.custom((v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return result.err("must be an object");
    return Buffer.byteLength(JSON.stringify(v)) > MAX_DATA_BYTES ? result.err(`is too large (maximum is ${MAX_DATA_BYTES} bytes)`) : result.ok(v as Record<string, unknown>);
  }, { nullable: true, schema: { type: "object", description: `Liquid variables, at most ${MAX_DATA_BYTES} bytes as JSON` } }),
  include_unsubscribe_link: f.boolean(),
  track_opens: f.boolean(),
  track_clicks: f.boolean(),
  subscriber: f.custom((v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return result.err("must be an object");
    const out: { first_name?: string | null; last_name?: string | null } = {};
    for (const [k, val] of Object.entries(v)) {
      if (k !== "first_name" && k !== "last_name") return result.err(`has an unknown key: ${k}`);
      if (val !== null && (typeof val !== "string" || val.trim().length > 100)) return result.err(`${k} must be a string of at most 100 characters`);
      out[k] = val === null ? null : (val as string).trim();
    }
    return result.ok(out);
  }, {
    schema: {
      type: "object",
      description: "Creates or updates the channel's subscriber with this email",
      properties: { first_name: { type: ["string", "null"], maxLength: 100 }, last_name: { type: ["string", "null"], maxLength: 100 } },
      additionalProperties: false,
    },
  }),
};

/** List filters (an empty value is no filter). */
export const TransactionalFilterFields = {
  status: f.enum(TRANSACTIONAL_STATUSES_LIST),
  source: f.enum(["api", "smtp"] as const),
  recipient_email: f.string({ description: "Matched case-insensitively" }),
};

export const TRANSACTIONAL_STATUSES = TRANSACTIONAL_STATUSES_LIST;

export const statusUrl = (publicUrl: string, id: number) => `${publicUrl}/api/v1/transactionals/${id}.json`;

/** The §4 transactional object. */
export const TransactionalSchema = Strict({
  id: Int(),
  channel: t.String(),
  recipient_email: t.String(),
  recipient_name: Nullable(t.String()),
  subject: Nullable(t.String()),
  body: Nullable(t.String()),
  preheader: Nullable(t.String()),
  reply_to: Nullable(t.String()),
  template_id: Nullable(Int()),
  source: t.String(),
  status: t.Union(TRANSACTIONAL_STATUSES_LIST.map((s) => t.Literal(s))),
  message_id: Nullable(t.String()),
  queue_at: Time,
  sent_at: Time,
  failed_at: Time,
  failure_reason: Nullable(t.String()),
  opened_at: Time,
  clicked_at: Time,
  created_at: Time,
  updated_at: Time,
  status_url: t.String(),
});

/** POST /transactionals: a send with `double_opt_in` adds the recipient's confirmation state and, when held, the link (§4). */
export const SentTransactionalSchema = Strict({
  ...TransactionalSchema.properties,
  confirmation_status: t.Optional(t.Union([t.Literal("confirmed"), t.Literal("pending"), t.Literal("unconfirmed")])),
  confirmation_url: t.Optional(t.String()),
});

export function encodeTransactional(m: Message, channel: string, publicUrl: string): Static<typeof TransactionalSchema> {
  return {
    id: m.id,
    channel,
    recipient_email: m.recipient_email,
    recipient_name: m.recipient_name,
    subject: m.subject,
    body: m.body,
    preheader: m.preheader,
    reply_to: m.reply_to,
    template_id: m.template_id,
    source: m.source,
    status: m.status,
    message_id: m.message_id,
    queue_at: toIso(m.queue_at),
    sent_at: toIso(m.sent_at),
    failed_at: toIso(m.failed_at),
    failure_reason: m.failure_reason,
    opened_at: toIso(m.opened_at),
    clicked_at: toIso(m.clicked_at),
    created_at: toIso(m.created_at),
    updated_at: toIso(m.updated_at),
    status_url: statusUrl(publicUrl, m.id),
  };
}
