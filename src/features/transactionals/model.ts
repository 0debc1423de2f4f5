/** Transactional send fields (API.md §4) and the transactional object. */
import type { Message } from "@/db/schema";
import { f, result, type FieldSpec } from "@/http/fields";
import { isEmail } from "@/lib/email";
import { toIso } from "@/lib/time";

const MAX_BODY_BYTES = 1024 * 1024;
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
  }, { nullable: true });

const email = f.custom((v) => (typeof v === "string" && isEmail(v.trim()) ? result.ok(v.trim()) : result.err("is invalid")), { nullable: true });

export const TransactionalFields: Record<string, FieldSpec> = {
  to: f.custom((v) => {
    const r = parseRecipient(v);
    return "error" in r ? result.err(r.error) : result.ok(r.value);
  }, { required: true }),
  subject: f.string({ max: 998, nullable: true }),
  body: bytes(MAX_BODY_BYTES),
  preheader: f.string({ max: 255, nullable: true }),
  reply_to: email,
  template_id: f.integer({ min: 1, nullable: true }),
  data: f.custom((v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return result.err("must be an object");
    return Buffer.byteLength(JSON.stringify(v)) > MAX_DATA_BYTES ? result.err(`is too large (maximum is ${MAX_DATA_BYTES} bytes)`) : result.ok(v);
  }, { nullable: true }),
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
  }),
};

export const TRANSACTIONAL_STATUSES = ["pending_confirmation", "queued", "sending", "sent", "deferred", "failed", "bounced"] as const;

export const statusUrl = (publicUrl: string, id: number) => `${publicUrl}/api/v1/transactionals/${id}.json`;

export function encodeTransactional(m: Message, channel: string, publicUrl: string) {
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
