/**
 * Every table of Mailroom. Names are the API's (plural snake_case); times are unix milliseconds.
 * Migrations are generated from this file by `bun run db:generate` (drizzle-kit) and are append-only.
 */
import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
  ],
);
export type EventRow = typeof events.$inferSelect;
