/**
 * Every table of Mailroom. Names are the API's (plural snake_case); times are unix milliseconds.
 * Migrations are generated from this file by `bun run db:generate` (drizzle-kit) and are append-only.
 */
import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex, type AnySQLiteColumn } from "drizzle-orm/sqlite-core";

const id = () => integer("id").primaryKey({ autoIncrement: true });
const createdAt = () => integer("created_at").notNull();
const updatedAt = () => integer("updated_at").notNull();
const bool = (name: string) => integer(name, { mode: "boolean" });
const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();

/** Instance-wide key/value settings (link secret, encryption key id, auth_version). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

// ---------------------------------------------------------------- tenancy, admins, tokens

export const channels = sqliteTable("channels", {
  id: id(),
  name: text("name").notNull(),
  slug: text("slug").notNull().unique(),
  sender_email: text("sender_email"),
  sender_name: text("sender_name"),
  reply_to: text("reply_to"),
  timezone: text("timezone").notNull().default("UTC"),
  physical_address: text("physical_address"),
  monthly_send_quota: integer("monthly_send_quota"),
  is_default: bool("is_default").notNull().default(false),
  created_at: createdAt(),
  updated_at: updatedAt(),
});
export type Channel = typeof channels.$inferSelect;
export type NewChannel = typeof channels.$inferInsert;

export const admin_users = sqliteTable("admin_users", {
  id: id(),
  email: text("email").notNull().unique(),
  password_hash: text("password_hash").notNull(),
  created_at: createdAt(),
  updated_at: updatedAt(),
});
export type AdminUser = typeof admin_users.$inferSelect;

/**
 * Dashboard sessions (§19): the `mailroom_auth` JWT carries the row id (`jti`), so logout, a
 * password change or deleting the user ends a session before the JWT itself expires.
 */
export const admin_sessions = sqliteTable(
  "admin_sessions",
  {
    id: text("id").primaryKey(),
    user_id: integer("user_id")
      .notNull()
      .references(() => admin_users.id, { onDelete: "cascade" }),
    created_at: createdAt(),
    expires_at: integer("expires_at").notNull(),
  },
  (t) => [index("admin_sessions_user_idx").on(t.user_id), index("admin_sessions_expires_idx").on(t.expires_at)],
);

export const access_tokens = sqliteTable(
  "access_tokens",
  {
    id: id(),
    name: text("name").notNull(),
    /** SHA-256 hex of the value; the value itself is never stored. */
    token_hash: text("token_hash").notNull().unique(),
    redacted_value: text("redacted_value").notNull(),
    /** Canonical permission names (§2.2). */
    permissions: json<string[]>("permissions").notNull(),
    scope: text("scope", { enum: ["channels", "all"] }).notNull(),
    /** Normalised CIDRs (bare IPs stored as /32 or /128). */
    allowed_ips: json<string[]>("allowed_ips").notNull(),
    expires_at: integer("expires_at"),
    rate_limit_general: integer("rate_limit_general"),
    rate_limit_send: integer("rate_limit_send"),
    /** Grace period after a refresh: the previous value's hash and when it dies. */
    previous_token_hash: text("previous_token_hash"),
    previous_expires_at: integer("previous_expires_at"),
    last_used_at: integer("last_used_at"),
    last_used_ip: text("last_used_ip"),
    request_count: integer("request_count").notNull().default(0),
    created_by_type: text("created_by_type", { enum: ["admin", "token", "cli", "system"] }).notNull(),
    created_by_id: integer("created_by_id"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [index("access_tokens_previous_hash_idx").on(t.previous_token_hash)],
);
export type AccessToken = typeof access_tokens.$inferSelect;
export type NewAccessToken = typeof access_tokens.$inferInsert;

export const access_token_channels = sqliteTable(
  "access_token_channels",
  {
    token_id: integer("token_id")
      .notNull()
      .references(() => access_tokens.id, { onDelete: "cascade" }),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.token_id, t.channel_id] }), index("access_token_channels_channel_idx").on(t.channel_id)],
);

/** Append-only record of every change to tokens, channels, servers, webhooks, admins, and dashboard logins (§2.6). */
export const audit_log = sqliteTable(
  "audit_log",
  {
    id: id(),
    created_at: createdAt(),
    actor_type: text("actor_type", { enum: ["token", "admin", "cli", "system"] }).notNull(),
    actor_id: integer("actor_id"),
    actor_label: text("actor_label"),
    action: text("action").notNull(),
    target_type: text("target_type").notNull(),
    target_id: integer("target_id"),
    target_label: text("target_label"),
    /** Slug at the time of the change (the channel may be deleted later). */
    channel: text("channel"),
    ip: text("ip"),
    user_agent: text("user_agent"),
    changes: json<Record<string, [unknown, unknown]>>("changes"),
  },
  (t) => [
    index("audit_log_action_idx").on(t.action, t.id),
    index("audit_log_target_idx").on(t.target_type, t.target_id),
    index("audit_log_created_idx").on(t.created_at),
  ],
);
export type AuditRow = typeof audit_log.$inferSelect;

/** Messages created per channel per UTC month (§1.8), charged in the transaction that creates them. */
export const quota_usage = sqliteTable(
  "quota_usage",
  {
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    /** "YYYY-MM" (UTC). */
    month: text("month").notNull(),
    used: integer("used").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.channel_id, t.month] })],
);

// ---------------------------------------------------------------- events (§13): one feed for webhooks and /events

export const events = sqliteTable(
  "events",
  {
    id: id(),
    channel_id: integer("channel_id"),
    type: text("type").notNull(),
    created_at: createdAt(),
    occurred_at: integer("occurred_at").notNull(),
    data: json<Record<string, unknown>>("data").notNull(),
    subscriber_id: integer("subscriber_id"),
    email: text("email"),
    broadcast_id: integer("broadcast_id"),
    transactional_id: integer("transactional_id"),
  },
  (t) => [
    index("events_channel_idx").on(t.channel_id, t.id),
    index("events_type_idx").on(t.type, t.id),
    index("events_created_idx").on(t.created_at),
    // Broadcast statistics, timeline and links (§5) read only their own broadcast's events.
    index("events_broadcast_idx").on(t.broadcast_id, t.type, t.subscriber_id, t.occurred_at).where(sql`broadcast_id IS NOT NULL`),
  ],
);
export type EventRow = typeof events.$inferSelect;

// ---------------------------------------------------------------- audience (§3, §7, §8, §12)

export const subscribers = sqliteTable(
  "subscribers",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    /** Trimmed, lower-cased; unique per channel. */
    email: text("email").notNull(),
    first_name: text("first_name"),
    last_name: text("last_name"),
    ip_address: text("ip_address"),
    is_active: bool("is_active").notNull().default(true),
    source: text("source").notNull().default("api_subscription"),
    subscribed_at: integer("subscribed_at"),
    unsubscribed_at: integer("unsubscribed_at"),
    confirmed_at: integer("confirmed_at"),
    /** Double opt-in sent and not yet confirmed → confirmation_status "pending". */
    confirmation_sent_at: integer("confirmation_sent_at"),
    bounced_at: integer("bounced_at"),
    complained_at: integer("complained_at"),
    last_email_sent_at: integer("last_email_sent_at"),
    last_email_opened_at: integer("last_email_opened_at"),
    last_email_clicked_at: integer("last_email_clicked_at"),
    total_emails_sent: integer("total_emails_sent").notNull().default(0),
    total_emails_opened: integer("total_emails_opened").notNull().default(0),
    total_emails_clicked: integer("total_emails_clicked").notNull().default(0),
    /** Sorted tag list (read path); `subscriber_tags` mirrors it for indexed filtering. */
    tags: json<string[]>("tags").notNull(),
    custom_data: json<Record<string, unknown>>("custom_data").notNull(),
    redacted_at: integer("redacted_at"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [uniqueIndex("subscribers_channel_email_idx").on(t.channel_id, t.email), index("subscribers_channel_id_idx").on(t.channel_id, t.id)],
);
export type Subscriber = typeof subscribers.$inferSelect;
export type NewSubscriber = typeof subscribers.$inferInsert;

export const subscriber_tags = sqliteTable(
  "subscriber_tags",
  {
    subscriber_id: integer("subscriber_id")
      .notNull()
      .references(() => subscribers.id, { onDelete: "cascade" }),
    channel_id: integer("channel_id").notNull(),
    tag: text("tag").notNull(),
  },
  (t) => [primaryKey({ columns: [t.subscriber_id, t.tag] }), index("subscriber_tags_channel_tag_idx").on(t.channel_id, t.tag, t.subscriber_id)],
);

/** Channel suppressions (channel_id set) and the global list (channel_id null). */
export const suppressions = sqliteTable(
  "suppressions",
  {
    id: id(),
    channel_id: integer("channel_id").references(() => channels.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    reason: text("reason", { enum: ["manual", "hard_bounce", "complaint"] }).notNull().default("manual"),
    source: text("source", { enum: ["api", "dashboard", "delivery"] }).notNull().default("api"),
    created_at: createdAt(),
  },
  (t) => [
    uniqueIndex("suppressions_channel_email_idx").on(t.channel_id, t.email).where(sql`channel_id IS NOT NULL`),
    uniqueIndex("suppressions_global_email_idx").on(t.email).where(sql`channel_id IS NULL`),
    index("suppressions_channel_id_idx").on(t.channel_id, t.id),
  ],
);
export type Suppression = typeof suppressions.$inferSelect;

/**
 * Subscribers per channel (every row, redacted ones too): the unfiltered list total without a
 * COUNT(*) over the channel. Kept by the AFTER INSERT/DELETE triggers on `subscribers` created in
 * migration 0006_subscriber_counts_triggers.sql (drizzle-kit does not model triggers).
 */
export const subscriber_counts = sqliteTable("subscriber_counts", {
  channel_id: integer("channel_id")
    .primaryKey()
    .references(() => channels.id, { onDelete: "cascade" }),
  total: integer("total").notNull().default(0),
});

export const templates = sqliteTable(
  "templates",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    label: text("label").notNull(),
    subject: text("subject"),
    preheader: text("preheader"),
    body: text("body"),
    html_body: bool("html_body").notNull().default(true),
    template_purpose: text("template_purpose", { enum: ["general", "confirmation"] }).notNull().default("general"),
    confirmation_text: text("confirmation_text"),
    default_confirmation: bool("default_confirmation").notNull().default(false),
    confirmation_page_settings: json<Record<string, unknown>>("confirmation_page_settings").notNull(),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [uniqueIndex("templates_channel_label_idx").on(t.channel_id, t.label)],
);
export type Template = typeof templates.$inferSelect;

// ---------------------------------------------------------------- opt-in forms (§10)

/** One block of a form or of its post-submission view (§10); ids are per form. */
export interface FormBlock {
  id: number;
  block_type: "text" | "input_field" | "button";
  form_view: "initial_view" | "post_submission";
  position: number;
  text_value: string | null;
  input_field_label: string | null;
  input_field_placeholder: string | null;
  input_field_value_type: string | null;
  required: boolean;
  button_label: string | null;
  custom_css: string | null;
}

/** Opt-in forms (§10). Blocks are stored with their form (≤ 50 each, always read and replaced whole). */
export const opt_in_forms = sqliteTable(
  "opt_in_forms",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    /** Public id of the hosted form (`/f/<identifier>`): a random UUID. */
    identifier: text("identifier").notNull().unique(),
    label: text("label").notNull(),
    form_type: text("form_type", { enum: ["web", "embed"] }).notNull(),
    widget_type: text("widget_type", { enum: ["inline", "popup", "slide-in"] }).notNull(),
    enabled: bool("enabled").notNull(),
    allowed_embedding_domains: json<string[]>("allowed_embedding_domains").notNull(),
    theme_settings: json<Record<string, unknown>>("theme_settings").notNull(),
    trigger_settings: json<Record<string, unknown>>("trigger_settings").notNull(),
    widget_settings: json<Record<string, unknown>>("widget_settings").notNull(),
    automation_settings: json<Record<string, unknown>>("automation_settings").notNull(),
    security_settings: json<{ honeypot: boolean; submissions_per_ip_per_hour: number }>("security_settings").notNull(),
    confirmation_email_template_id: integer("confirmation_email_template_id"),
    welcome_email_template_id: integer("welcome_email_template_id"),
    blocks: json<FormBlock[]>("blocks").notNull(),
    post_submission_blocks: json<FormBlock[]>("post_submission_blocks").notNull(),
    /** A variant's form (shown instead of it by weight on the hosted page); null for a top-level form. Deleted with it (by the service: SQLite cannot add a cascading column). */
    parent_form_id: integer("parent_form_id").references((): AnySQLiteColumn => opt_in_forms.id),
    variant_name: text("variant_name"),
    variant_weight: integer("variant_weight"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [index("opt_in_forms_channel_idx").on(t.channel_id, t.id), index("opt_in_forms_parent_idx").on(t.parent_form_id).where(sql`parent_form_id IS NOT NULL`)],
);
export type OptInForm = typeof opt_in_forms.$inferSelect;

/** Per form and UTC day (`YYYY-MM-DD`): hosted page views, unique views and accepted submissions (§10 analytics). */
export const opt_in_form_days = sqliteTable(
  "opt_in_form_days",
  {
    form_id: integer("form_id")
      .notNull()
      .references(() => opt_in_forms.id, { onDelete: "cascade" }),
    day: text("day").notNull(),
    views: integer("views").notNull().default(0),
    unique_views: integer("unique_views").notNull().default(0),
    submissions: integer("submissions").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.form_id, t.day] })],
);

/** Who viewed a form today (hash of IP + user agent), for unique views; earlier days are pruned. */
export const opt_in_form_visitors = sqliteTable(
  "opt_in_form_visitors",
  {
    form_id: integer("form_id")
      .notNull()
      .references(() => opt_in_forms.id, { onDelete: "cascade" }),
    day: text("day").notNull(),
    visitor: text("visitor").notNull(),
  },
  (t) => [primaryKey({ columns: [t.form_id, t.day, t.visitor] })],
);

// ---------------------------------------------------------------- delivery (§4, §9, §17, §18)

/**
 * The durable outbox: one row per outbound message (transactionals from the API and SMTP, broadcast
 * recipients, system mail; sequence recipients later). A transactional's id is its row id. Claimed
 * by the delivery job with a lease (src/outbox).
 */
export const messages = sqliteTable(
  "messages",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["transactional", "broadcast", "sequence", "system"] }).notNull(),
    /** Claim order: `priority` (transactional, system) always before `bulk` (broadcast, sequence). */
    lane: text("lane", { enum: ["priority", "bulk"] }).notNull().default("priority"),
    /** `api` | `smtp` for transactionals. */
    source: text("source").notNull(),
    status: text("status", { enum: ["pending_confirmation", "queued", "sending", "sent", "deferred", "failed", "bounced"] }).notNull(),
    recipient_email: text("recipient_email").notNull(),
    recipient_name: text("recipient_name"),
    subscriber_id: integer("subscriber_id"),
    subject: text("subject"),
    body: text("body"),
    preheader: text("preheader"),
    reply_to: text("reply_to"),
    template_id: integer("template_id"),
    data: json<Record<string, unknown>>("data"),
    include_unsubscribe_link: bool("include_unsubscribe_link").notNull().default(false),
    track_opens: bool("track_opens").notNull().default(false),
    track_clicks: bool("track_clicks").notNull().default(false),
    /** Whether `body` is HTML (sequence mail: its step's setting); null = decided by looking at the rendered body. */
    html_body: bool("html_body"),
    /** SMTP submissions: the MIME as submitted (Bcc removed), delivered as is. */
    raw_mime: blob("raw_mime", { mode: "buffer" }),
    /** Several recipients of one SMTP submission share the raw MIME stored on this row. */
    raw_of: integer("raw_of"),
    /** From address actually used (SMTP `From`; null = the channel's sender_email). */
    from_email: text("from_email"),
    /** Restricts routing to these email servers (broadcast/sequence `email_server_ids`); null = purpose routing. */
    server_ids: json<number[]>("server_ids"),
    message_id: text("message_id").notNull(),
    broadcast_id: integer("broadcast_id"),
    sequence_id: integer("sequence_id"),
    sequence_step_id: integer("sequence_step_id"),
    /** Server that accepted it (null for local capture). */
    email_server_id: integer("email_server_id"),
    attempts: integer("attempts").notNull().default(0),
    next_attempt_at: integer("next_attempt_at"),
    lease_expires_at: integer("lease_expires_at"),
    /** Why a queued message waits without an attempt (no active server, capture down, server limits); activating a route wakes these. */
    waiting_for: text("waiting_for"),
    queue_at: integer("queue_at").notNull(),
    sent_at: integer("sent_at"),
    failed_at: integer("failed_at"),
    failure_reason: text("failure_reason"),
    smtp_response: text("smtp_response"),
    opened_at: integer("opened_at"),
    clicked_at: integer("clicked_at"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    // Claimable rows only (due, not leased): the claim is a short range scan even behind a large backlog.
    index("messages_claim_priority_idx").on(t.lane, t.next_attempt_at).where(sql`next_attempt_at IS NOT NULL AND lease_expires_at IS NULL`),
    index("messages_claim_bulk_idx").on(t.lane, t.channel_id, t.next_attempt_at).where(sql`next_attempt_at IS NOT NULL AND lease_expires_at IS NULL`),
    index("messages_waiting_idx").on(t.channel_id).where(sql`waiting_for IS NOT NULL`),
    index("messages_channel_kind_idx").on(t.channel_id, t.kind, t.id),
    // Only sent mail is counted against a server's limits (outbox/routing.ts): unsent rows stay out.
    index("messages_server_sent_idx").on(t.email_server_id, t.sent_at).where(sql`sent_at IS NOT NULL`),
    index("messages_channel_recipient_idx").on(t.channel_id, t.recipient_email),
    index("messages_lease_idx").on(t.lease_expires_at).where(sql`lease_expires_at IS NOT NULL`),
    // Transactionals held for a double opt-in confirmation (§10.2): released by subscriber, expired by age.
    index("messages_held_idx").on(t.subscriber_id, t.created_at).where(sql`status = 'pending_confirmation'`),
    // System mail deferred by a full monthly quota (§1.8): released per channel, oldest first.
    index("messages_deferred_idx").on(t.channel_id, t.id).where(sql`status = 'deferred'`),
    // System mail by subscriber (confirmation and welcome emails): which form a confirmation came from.
    index("messages_system_idx").on(t.subscriber_id).where(sql`kind = 'system'`),
    // Broadcast progress, pause/resume and statistics; transactionals (no broadcast) stay out of it.
    index("messages_broadcast_idx").on(t.broadcast_id, t.status).where(sql`broadcast_id IS NOT NULL`),
    // Sequence conditions (opened/clicked any email of this sequence) read a subscriber's sequence mail.
    index("messages_sequence_idx").on(t.subscriber_id, t.sequence_id).where(sql`sequence_id IS NOT NULL`),
    // Bounce reports and provider events name a message by its Message-ID header.
    index("messages_message_id_idx").on(t.message_id),
  ],
);
export type Message = typeof messages.$inferSelect;
export type NewMessage = typeof messages.$inferInsert;

// ---------------------------------------------------------------- local capture (§18)

/**
 * Mail the built-in capture server received from Mailroom's own delivery worker: the raw MIME as
 * delivered plus parsed metadata. Linked to the outbound `messages` row it was delivered for.
 */
export const captured_messages = sqliteTable(
  "captured_messages",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    /** The `messages` row (outbox) this is the delivered copy of. */
    outbound_message_id: integer("outbound_message_id").notNull(),
    transactional_id: integer("transactional_id"),
    broadcast_id: integer("broadcast_id"),
    sequence_step_id: integer("sequence_step_id"),
    /** Message-ID header as delivered (with angle brackets), or null. */
    message_id: text("message_id"),
    from: text("from"),
    to: json<string[]>("to").notNull(),
    cc: json<string[]>("cc").notNull(),
    /** SMTP envelope: MAIL FROM and RCPT TO addresses (Bcc recipients only show here). */
    envelope_from: text("envelope_from"),
    envelope_to: json<string[]>("envelope_to").notNull(),
    subject: text("subject"),
    size: integer("size").notNull(),
    has_html: bool("has_html").notNull(),
    has_text: bool("has_text").notNull(),
    attachments: json<{ filename: string | null; content_type: string; size: number }[]>("attachments").notNull(),
    raw: blob("raw", { mode: "buffer" }).notNull(),
    received_at: integer("received_at").notNull(),
  },
  (t) => [
    index("captured_messages_channel_idx").on(t.channel_id, t.id),
    index("captured_messages_received_idx").on(t.received_at),
    index("captured_messages_transactional_idx").on(t.transactional_id),
    index("captured_messages_broadcast_idx").on(t.broadcast_id),
  ],
);
export type CapturedMessage = typeof captured_messages.$inferSelect;
export type NewCapturedMessage = typeof captured_messages.$inferInsert;

/**
 * How many captured messages are stored (one row, id 1): the capture's retention trims beyond
 * MAILROOM_CAPTURE_MAX without walking the table on every insert. Kept by the AFTER INSERT/DELETE
 * triggers on `captured_messages` created in migration 0028_captured_messages_count_triggers.sql.
 */
export const captured_messages_count = sqliteTable("captured_messages_count", {
  id: integer("id").primaryKey(),
  total: integer("total").notNull().default(0),
});

// ---------------------------------------------------------------- delivery: email servers, idempotency (§9, §1.9)

/** Outbound SMTP servers per channel (§9). `smtp_password` is AES-256-GCM ciphertext (src/lib/secrets.ts). */
export const email_servers = sqliteTable(
  "email_servers",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    label: text("label").notNull(),
    vendor: text("vendor").notNull().default("smtp"),
    delivery_method: text("delivery_method").notNull().default("smtp"),
    active: bool("active").notNull().default(true),
    smtp_address: text("smtp_address").notNull(),
    smtp_port: integer("smtp_port").notNull().default(587),
    smtp_username: text("smtp_username"),
    smtp_password_enc: text("smtp_password_enc"),
    smtp_authentication: text("smtp_authentication", { enum: ["plain", "login", "cram_md5"] }),
    smtp_enable_starttls_auto: bool("smtp_enable_starttls_auto").notNull().default(true),
    smtp_tls: bool("smtp_tls").notNull().default(false),
    emails_per_hour: integer("emails_per_hour"),
    /** Optional caps besides the rolling hour (null = none). */
    emails_per_minute: integer("emails_per_minute"),
    emails_per_day: integer("emails_per_day"),
    /** Pooled SMTP connections the delivery job opens to this server. */
    max_connections: integer("max_connections").notNull().default(5),
    priority: integer("priority").notNull().default(100),
    use_for_broadcasts: bool("use_for_broadcasts").notNull().default(true),
    use_for_sequences: bool("use_for_sequences").notNull().default(true),
    use_for_transactionals: bool("use_for_transactionals").notNull().default(true),
    include_unsubscribe_header: bool("include_unsubscribe_header").notNull().default(true),
    use_custom_unsubscribe_link: bool("use_custom_unsubscribe_link").notNull().default(false),
    custom_unsubscribe_link: text("custom_unsubscribe_link"),
    /** Provider event webhooks (/hooks/providers/:id/:provider): keys encrypted like the SMTP password. */
    webhook_signing_key_enc: text("webhook_signing_key_enc"),
    webhook_public_key_enc: text("webhook_public_key_enc"),
    webhook_username: text("webhook_username"),
    webhook_password_enc: text("webhook_password_enc"),
    /** SES via SNS: the only topic whose notifications are accepted (null = any topic AWS signed). */
    sns_topic_arn: text("sns_topic_arn"),
    connection_failed_at: integer("connection_failed_at"),
    last_error: text("last_error"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [index("email_servers_channel_idx").on(t.channel_id, t.priority, t.id)],
);
export type EmailServer = typeof email_servers.$inferSelect;
export type NewEmailServer = typeof email_servers.$inferInsert;

/** Provider webhook events already handled (SNS MessageId, sg_event_id, …): a replay is ignored. Kept 14 days. */
export const provider_hook_events = sqliteTable(
  "provider_hook_events",
  {
    provider: text("provider").notNull(),
    event_id: text("event_id").notNull(),
    email_server_id: integer("email_server_id").notNull(),
    received_at: integer("received_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.event_id] }), index("provider_hook_events_received_idx").on(t.received_at)],
);

/** Completed `POST /transactionals` results per (token, Idempotency-Key), kept 24 h (§1.9). In-flight keys live in memory. */
export const idempotency_keys = sqliteTable(
  "idempotency_keys",
  {
    token_id: integer("token_id").notNull(),
    key: text("key").notNull(),
    fingerprint: text("fingerprint").notNull(),
    response_status: integer("response_status").notNull(),
    response_body: text("response_body").notNull(),
    created_at: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.token_id, t.key] }), index("idempotency_keys_created_idx").on(t.created_at)],
);
export type IdempotencyKey = typeof idempotency_keys.$inferSelect;

// ---------------------------------------------------------------- segments (§7)

export const segments = sqliteTable(
  "segments",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [index("segments_channel_idx").on(t.channel_id, t.id)],
);
export type Segment = typeof segments.$inferSelect;

/** OR'd within a segment; rules inside AND (`all`) or OR (`any`). */
export const segment_groups = sqliteTable(
  "segment_groups",
  {
    id: id(),
    segment_id: integer("segment_id")
      .notNull()
      .references(() => segments.id, { onDelete: "cascade" }),
    match_type: text("match_type", { enum: ["all", "any"] }).notNull().default("all"),
    position: integer("position").notNull(),
  },
  (t) => [index("segment_groups_segment_idx").on(t.segment_id, t.position)],
);
export type SegmentGroup = typeof segment_groups.$inferSelect;

export const segment_rules = sqliteTable(
  "segment_rules",
  {
    id: id(),
    group_id: integer("group_id")
      .notNull()
      .references(() => segment_groups.id, { onDelete: "cascade" }),
    field: text("field").notNull(),
    operator: text("operator").notNull(),
    value: text("value"),
    secondary_value: text("secondary_value"),
    rule_type: text("rule_type").notNull(),
    value_type: text("value_type"),
    position: integer("position").notNull(),
    is_negative: bool("is_negative").notNull().default(false),
    case_sensitive: bool("case_sensitive").notNull().default(false),
  },
  (t) => [index("segment_rules_group_idx").on(t.group_id, t.position)],
);
export type SegmentRule = typeof segment_rules.$inferSelect;

// ---------------------------------------------------------------- broadcasts (§5) and tracking (§16)

export const BROADCAST_STATUSES = ["draft", "future_scheduled", "scheduled", "queueing", "sending", "sent", "failed", "partial_failure", "paused", "aborted"] as const;
export type BroadcastStatus = (typeof BROADCAST_STATUSES)[number];

/**
 * Campaigns to a channel's audience. The content is stored once here: the recipients' outbox rows
 * carry `broadcast_id` and no body (compose renders this row per recipient).
 */
export const broadcasts = sqliteTable(
  "broadcasts",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    subject: text("subject").notNull(),
    preheader: text("preheader"),
    body: text("body").notNull(),
    html_body: bool("html_body").notNull().default(true),
    reply_to: text("reply_to"),
    status: text("status", { enum: BROADCAST_STATUSES }).notNull().default("draft"),
    track_opens: bool("track_opens").notNull().default(false),
    track_clicks: bool("track_clicks").notNull().default(false),
    include_unsubscribe_link: bool("include_unsubscribe_link").notNull().default(true),
    segment_ids: json<number[]>("segment_ids").notNull(),
    excluded_segment_ids: json<number[]>("excluded_segment_ids").notNull(),
    email_server_ids: json<number[]>("email_server_ids").notNull(),
    tags: json<string[]>("tags").notNull(),
    /** Audience size snapshotted when queueing started. */
    total_recipients: integer("total_recipients").notNull().default(0),
    /** Recipients handed to the outbox so far (fan-out progress; restarts continue after `fanout_cursor`). */
    enqueued_count: integer("enqueued_count").notNull().default(0),
    /** Highest subscriber id of the snapshot already enqueued. */
    fanout_cursor: integer("fanout_cursor").notNull().default(0),
    scheduled_send_at: integer("scheduled_send_at"),
    scheduled_timezone: text("scheduled_timezone"),
    sent_at: integer("sent_at"),
    failure_reason: text("failure_reason"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [index("broadcasts_channel_idx").on(t.channel_id, t.id), index("broadcasts_status_idx").on(t.status, t.scheduled_send_at)],
);
export type Broadcast = typeof broadcasts.$inferSelect;

/** The audience snapshot of a broadcast taken at `queueing`, consumed by the fan-out job in subscriber id order. */
export const broadcast_recipients = sqliteTable(
  "broadcast_recipients",
  {
    broadcast_id: integer("broadcast_id")
      .notNull()
      .references(() => broadcasts.id, { onDelete: "cascade" }),
    subscriber_id: integer("subscriber_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.broadcast_id, t.subscriber_id] })],
);

/** Tracked links of a broadcast's body (§16: click tokens carry the index, never the URL). */
export const broadcast_links = sqliteTable(
  "broadcast_links",
  {
    broadcast_id: integer("broadcast_id")
      .notNull()
      .references(() => broadcasts.id, { onDelete: "cascade" }),
    link_index: integer("link_index").notNull(),
    url: text("url").notNull(),
  },
  (t) => [primaryKey({ columns: [t.broadcast_id, t.link_index] })],
);

// ---------------------------------------------------------------- webhooks (§11)

export const webhook_endpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    description: text("description"),
    active: bool("active").notNull().default(true),
    event_types: json<string[]>("event_types").notNull(),
    retries_to_attempt: integer("retries_to_attempt").notNull().default(6),
    /** `whsec_…`, encrypted at rest (lib/secrets.ts); the API shows it in full only at create. */
    secret_enc: text("secret_enc").notNull(),
    /** First 4 + last 4 characters of the secret, for the masked form. */
    secret_hint: text("secret_hint").notNull(),
    last_response_code: integer("last_response_code"),
    last_sent_at: integer("last_sent_at"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [index("webhook_endpoints_channel_idx").on(t.channel_id, t.id)],
);
export type WebhookEndpoint = typeof webhook_endpoints.$inferSelect;

/** One durable delivery of one event to one endpoint; the body is stored so every attempt sends the same bytes. */
export const webhook_deliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: id(),
    endpoint_id: integer("endpoint_id")
      .notNull()
      .references(() => webhook_endpoints.id, { onDelete: "cascade" }),
    event_id: integer("event_id"),
    event_type: text("event_type").notNull(),
    body: text("body").notNull(),
    status: text("status", { enum: ["pending", "succeeded", "failed", "exhausted", "cancelled"] }).notNull(),
    test: bool("test").notNull().default(false),
    attempts: integer("attempts").notNull().default(0),
    response_status: integer("response_status"),
    response_body_excerpt: text("response_body_excerpt"),
    duration_ms: integer("duration_ms"),
    error: text("error"),
    /** Due time of the next attempt (null = finished or being attempted). */
    next_attempt_at: integer("next_attempt_at"),
    created_at: createdAt(),
    last_attempt_at: integer("last_attempt_at"),
    delivered_at: integer("delivered_at"),
  },
  (t) => [
    index("webhook_deliveries_endpoint_idx").on(t.endpoint_id, t.id),
    // Due rows per endpoint: each delivery loop claims one endpoint's oldest due rows.
    index("webhook_deliveries_due_idx").on(t.endpoint_id, t.next_attempt_at).where(sql`next_attempt_at IS NOT NULL`),
  ],
);
export type WebhookDelivery = typeof webhook_deliveries.$inferSelect;

// ---------------------------------------------------------------- reputation (§14)

/**
 * Message outcomes per channel × sending domain × UTC day, kept by triggers on messages and events
 * (migration reputation_counts_triggers), so GET /reputation sums a few rows instead of scanning mail.
 * `sent` = messages that reached an outcome (delivered + bounced + failed).
 */
export const reputation_counts = sqliteTable(
  "reputation_counts",
  {
    channel_id: integer("channel_id").notNull(),
    domain: text("domain").notNull(),
    /** Days since the epoch (UTC) of the message's creation. */
    day: integer("day").notNull(),
    sent: integer("sent").notNull().default(0),
    delivered: integer("delivered").notNull().default(0),
    bounced: integer("bounced").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    complained: integer("complained").notNull().default(0),
    opened: integer("opened").notNull().default(0),
    clicked: integer("clicked").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.channel_id, t.domain, t.day] })],
);

// ---------------------------------------------------------------- sequences (§6)

export const SEQUENCE_STEP_ACTIONS = [
  "entry_point", "delay", "delay_until_time", "send_email", "condition", "move_to_sequence",
  "add_tag_to_subscriber", "remove_tag_from_subscriber", "deactivate_subscriber", "make_http_request",
] as const;
export type SequenceStepAction = (typeof SEQUENCE_STEP_ACTIONS)[number];
export const ENROLLMENT_STATUSES = ["active", "paused", "completed", "removed", "error"] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];

/** Automations: a tree of steps each enrolled subscriber walks, advanced by the sequence scheduler job. */
export const sequences = sqliteTable(
  "sequences",
  {
    id: id(),
    channel_id: integer("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    label: text("label").notNull(),
    active: bool("active").notNull().default(false),
    track_opens: bool("track_opens").notNull().default(true),
    track_clicks: bool("track_clicks").notNull().default(true),
    use_any_email_server: bool("use_any_email_server").notNull().default(true),
    email_server_ids: json<number[]>("email_server_ids").notNull(),
    /** Adding this tag to a subscriber of the channel enrolls them while the sequence is active. */
    init_tag: text("init_tag"),
    /** Eligible members of this segment are enrolled by the segment sync job. */
    init_segment_id: integer("init_segment_id"),
    /** The root `entry_point` step (set right after the sequence row is inserted). */
    entry_point_id: integer("entry_point_id"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index("sequences_channel_idx").on(t.channel_id, t.id),
    index("sequences_init_tag_idx").on(t.channel_id, t.init_tag).where(sql`init_tag IS NOT NULL`),
    index("sequences_init_segment_idx").on(t.init_segment_id).where(sql`init_segment_id IS NOT NULL`),
  ],
);
export type Sequence = typeof sequences.$inferSelect;

/** One node of a sequence's step tree; `branch` is `yes`/`no` under a condition step, else null. */
export const sequence_steps = sqliteTable(
  "sequence_steps",
  {
    id: id(),
    sequence_id: integer("sequence_id")
      .notNull()
      .references(() => sequences.id, { onDelete: "cascade" }),
    action: text("action", { enum: SEQUENCE_STEP_ACTIONS }).notNull(),
    label: text("label"),
    parent_id: integer("parent_id"),
    branch: text("branch", { enum: ["yes", "no"] }),
    position: integer("position").notNull().default(0),
    delay: integer("delay"),
    delay_until_time: text("delay_until_time"),
    delay_until_timezone: text("delay_until_timezone"),
    subject: text("subject"),
    preheader: text("preheader"),
    body: text("body"),
    html_body: bool("html_body"),
    template_id: integer("template_id"),
    condition_setting: text("condition_setting"),
    taggify_list: text("taggify_list"),
    target_sequence_id: integer("target_sequence_id"),
    http_url: text("http_url"),
    http_method: text("http_method"),
    http_headers: json<Record<string, string>>("http_headers"),
    http_body: text("http_body"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [index("sequence_steps_tree_idx").on(t.sequence_id, t.parent_id), index("sequence_steps_template_idx").on(t.template_id).where(sql`template_id IS NOT NULL`)],
);
export type SequenceStep = typeof sequence_steps.$inferSelect;

/**
 * Enrollments (`subscriber_sequences`): where a subscriber stands in a sequence. The scheduler job
 * picks active rows whose `next_trigger_at` is due; a subscriber has at most one active or paused
 * enrollment per sequence (re-adding after completed/removed starts a new row).
 */
export const subscriber_sequences = sqliteTable(
  "subscriber_sequences",
  {
    id: id(),
    sequence_id: integer("sequence_id")
      .notNull()
      .references(() => sequences.id, { onDelete: "cascade" }),
    subscriber_id: integer("subscriber_id")
      .notNull()
      .references(() => subscribers.id, { onDelete: "cascade" }),
    channel_id: integer("channel_id").notNull(),
    status: text("status", { enum: ENROLLMENT_STATUSES }).notNull().default("active"),
    current_step_id: integer("current_step_id"),
    /** When the current step is due (null while not waiting on time: paused, finished). */
    next_trigger_at: integer("next_trigger_at"),
    /** The outbox row of the last `send_email` step (for `previous_email_opened/clicked`). */
    last_message_id: integer("last_message_id"),
    /** Attempts made of the `make_http_request` step it stands on (0 again when it moves on). */
    request_attempts: integer("request_attempts").notNull().default(0),
    error: text("error"),
    started_at: integer("started_at").notNull(),
    completed_at: integer("completed_at"),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    // Per sequence: the scheduler reads only active sequences' due rows (an inactive one's backlog is never scanned).
    index("subscriber_sequences_due_idx").on(t.sequence_id, t.next_trigger_at).where(sql`status = 'active' AND next_trigger_at IS NOT NULL`),
    index("subscriber_sequences_sequence_idx").on(t.sequence_id, t.status, t.id),
    index("subscriber_sequences_subscriber_idx").on(t.subscriber_id),
    index("subscriber_sequences_step_idx").on(t.current_step_id),
    uniqueIndex("subscriber_sequences_open_idx").on(t.sequence_id, t.subscriber_id).where(sql`status IN ('active', 'paused')`),
  ],
);
export type Enrollment = typeof subscriber_sequences.$inferSelect;
export type NewEnrollment = typeof subscriber_sequences.$inferInsert;

// ---------------------------------------------------------------- bounces and complaints that arrive later

export const REPORT_KINDS = ["hard_bounce", "soft_bounce", "complaint"] as const;
export const REPORT_SOURCES = ["inbound", "ses", "postmark", "sendgrid", "mailgun"] as const;

/**
 * Bounces and complaints applied to sent messages after the SMTP transaction (inbound DSN/ARF mail,
 * provider webhooks): at most one per message and kind (a repeated report is a duplicate), and the
 * soft bounces of an address are counted from here (three in 15 days suppress it).
 */
export const delivery_reports = sqliteTable(
  "delivery_reports",
  {
    id: id(),
    message_id: integer("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    channel_id: integer("channel_id").notNull(),
    /** The message's recipient, stored form. */
    email: text("email").notNull(),
    kind: text("kind", { enum: REPORT_KINDS }).notNull(),
    source: text("source", { enum: REPORT_SOURCES }).notNull(),
    diagnostic: text("diagnostic"),
    occurred_at: integer("occurred_at").notNull(),
    created_at: createdAt(),
  },
  (t) => [
    uniqueIndex("delivery_reports_message_kind_idx").on(t.message_id, t.kind),
    index("delivery_reports_soft_idx").on(t.channel_id, t.email, t.occurred_at).where(sql`kind = 'soft_bounce'`),
  ],
);

export const INBOUND_CLASSIFICATIONS = ["hard_bounce", "soft_bounce", "complaint", "auto_reply", "unclassified"] as const;

/**
 * Mail received by the inbound bounce listener, classified, kept for inspection
 * (GET /api/v1/inbound_messages) for MAILROOM_EVENT_RETENTION_DAYS. `message_id` is the outbox row
 * it was about (from the signed return path, else the original's Message-ID), when known.
 */
export const inbound_messages = sqliteTable(
  "inbound_messages",
  {
    id: id(),
    channel_id: integer("channel_id").references(() => channels.id, { onDelete: "cascade" }),
    message_id: integer("message_id").references(() => messages.id, { onDelete: "set null" }),
    classification: text("classification", { enum: INBOUND_CLASSIFICATIONS }).notNull(),
    /** What it did: `applied`, `duplicate`, `ignored` (no message of ours, or another recipient), `stored` (no action). */
    result: text("result", { enum: ["applied", "duplicate", "ignored", "stored"] }).notNull(),
    mail_from: text("mail_from"),
    rcpt_to: text("rcpt_to").notNull(),
    from_header: text("from_header"),
    subject: text("subject"),
    /** The recipient the report names, and its status / diagnostic text. */
    recipient: text("recipient"),
    diagnostic: text("diagnostic"),
    raw_size: integer("raw_size").notNull(),
    remote_ip: text("remote_ip"),
    received_at: integer("received_at").notNull(),
  },
  (t) => [index("inbound_messages_channel_idx").on(t.channel_id, t.id), index("inbound_messages_received_idx").on(t.received_at)],
);
export type InboundMessage = typeof inbound_messages.$inferSelect;
