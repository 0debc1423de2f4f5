/** Email server fields (docs/api-reference.md §9) and the encoder; credentials and their redaction are in credentials.ts. */
import { t, type Static } from "elysia";
import type { EmailServer } from "@/db/schema";
import { f, result } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { toIso } from "@/lib/time";
import { encodeWebhookKeys, MASKED, WebhookKeyFields, WebhookKeySchema, writeOnly } from "./credentials";

export const VENDORS = ["smtp", "aws_ses", "sendgrid", "postmark", "mailgun", "resend", "inboxroad", "smtp_com", "other"] as const;
export const PURPOSES = ["broadcasts", "sequences", "transactionals"] as const;
export type Purpose = (typeof PURPOSES)[number];

const url = f.custom((v) => {
  if (typeof v !== "string") return result.err("must be a string");
  const s = v.trim();
  if (s.length > 2048) return result.err("is too long (maximum is 2048 characters)");
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:" ? result.ok(s) : result.err("is not a valid http(s) URL");
  } catch {
    return result.err("is not a valid http(s) URL");
  }
}, { nullable: true, schema: { type: "string", format: "uri", maxLength: 2048 } });

/** `copy_to_channel`: the target by id or slug, checked by the service (§9). */
export const CopyFields = {
  target_channel_id: f.custom((v) => result.ok(v), { nullable: true, schema: { type: "integer", description: "The target channel's id" } }),
  target_channel: f.custom((v) => result.ok(v), { nullable: true, schema: { type: "string", description: "The target channel's slug (when no id is given)" } }),
};

export const EmailServerFields = {
  label: f.string({ required: true, max: 255 }),
  vendor: f.enum(VENDORS),
  delivery_method: f.custom((v) => (v === "smtp" ? result.ok(v) : result.err("is not supported (only smtp)")), { schema: { type: "string", const: "smtp" } }),
  smtp_address: f.string({ required: true, max: 255 }),
  smtp_port: f.integer({ min: 1, max: 65535 }),
  smtp_username: f.string({ max: 255, nullable: true }),
  smtp_password: writeOnly(1024),
  smtp_authentication: f.enum(["plain", "login", "cram_md5"] as const, { nullable: true }),
  smtp_enable_starttls_auto: f.boolean(),
  smtp_tls: f.boolean(),
  active: f.boolean(),
  emails_per_hour: f.integer({ min: 1, nullable: true }),
  emails_per_minute: f.integer({ min: 1, nullable: true }),
  emails_per_day: f.integer({ min: 1, nullable: true }),
  max_connections: f.integer({ min: 1, max: 50 }),
  priority: f.integer({ min: 0, max: 1000 }),
  use_for_broadcasts: f.boolean(),
  use_for_sequences: f.boolean(),
  use_for_transactionals: f.boolean(),
  include_unsubscribe_header: f.boolean(),
  use_custom_unsubscribe_link: f.boolean(),
  custom_unsubscribe_link: url,
  ...WebhookKeyFields,
};

/** The §9 email server object (credentials masked). */
export const EmailServerSchema = Strict({
  id: Int(),
  channel: t.String(),
  label: t.String(),
  vendor: t.String(),
  delivery_method: t.String(),
  active: t.Boolean(),
  smtp_address: t.String(),
  smtp_port: Int(),
  smtp_username: Nullable(t.String()),
  smtp_password: Nullable(t.Literal(MASKED)),
  smtp_authentication: Nullable(t.Union([t.Literal("plain"), t.Literal("login"), t.Literal("cram_md5")])),
  smtp_enable_starttls_auto: t.Boolean(),
  smtp_tls: t.Boolean(),
  emails_per_hour: Nullable(Int()),
  emails_per_minute: Nullable(Int()),
  emails_per_day: Nullable(Int()),
  max_connections: Int(),
  priority: Int(),
  use_for_broadcasts: t.Boolean(),
  use_for_sequences: t.Boolean(),
  use_for_transactionals: t.Boolean(),
  include_unsubscribe_header: t.Boolean(),
  use_custom_unsubscribe_link: t.Boolean(),
  custom_unsubscribe_link: Nullable(t.String()),
  ...WebhookKeySchema,
  connection_failed_at: Time,
  last_error: Nullable(t.String()),
  created_at: Time,
  updated_at: Time,
});

export function encodeEmailServer(s: EmailServer, channel: string, publicUrl: string): Static<typeof EmailServerSchema> {
  return {
    id: s.id,
    channel,
    label: s.label,
    vendor: s.vendor,
    delivery_method: s.delivery_method,
    active: s.active,
    smtp_address: s.smtp_address,
    smtp_port: s.smtp_port,
    smtp_username: s.smtp_username,
    smtp_password: s.smtp_password_enc ? MASKED : null,
    smtp_authentication: s.smtp_authentication,
    smtp_enable_starttls_auto: s.smtp_enable_starttls_auto,
    smtp_tls: s.smtp_tls,
    emails_per_hour: s.emails_per_hour,
    emails_per_minute: s.emails_per_minute,
    emails_per_day: s.emails_per_day,
    max_connections: s.max_connections,
    priority: s.priority,
    use_for_broadcasts: s.use_for_broadcasts,
    use_for_sequences: s.use_for_sequences,
    use_for_transactionals: s.use_for_transactionals,
    include_unsubscribe_header: s.include_unsubscribe_header,
    use_custom_unsubscribe_link: s.use_custom_unsubscribe_link,
    custom_unsubscribe_link: s.custom_unsubscribe_link,
    ...encodeWebhookKeys(s, publicUrl),
    connection_failed_at: toIso(s.connection_failed_at),
    last_error: s.last_error,
    created_at: toIso(s.created_at),
    updated_at: toIso(s.updated_at),
  };
}
