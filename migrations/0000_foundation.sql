CREATE TABLE `access_token_channels` (
	`token_id` integer NOT NULL,
	`channel_id` integer NOT NULL,
	PRIMARY KEY(`token_id`, `channel_id`),
	FOREIGN KEY (`token_id`) REFERENCES `access_tokens`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `access_token_channels_channel_idx` ON `access_token_channels` (`channel_id`);--> statement-breakpoint
CREATE TABLE `access_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`redacted_value` text NOT NULL,
	`permissions` text NOT NULL,
	`scope` text NOT NULL,
	`allowed_ips` text NOT NULL,
	`expires_at` integer,
	`rate_limit_general` integer,
	`rate_limit_send` integer,
	`previous_token_hash` text,
	`previous_expires_at` integer,
	`last_used_at` integer,
	`last_used_ip` text,
	`request_count` integer DEFAULT 0 NOT NULL,
	`created_by_type` text NOT NULL,
	`created_by_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `access_tokens_token_hash_unique` ON `access_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `access_tokens_previous_hash_idx` ON `access_tokens` (`previous_token_hash`);--> statement-breakpoint
CREATE TABLE `admin_users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admin_users_email_unique` ON `admin_users` (`email`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`created_at` integer NOT NULL,
	`actor_type` text NOT NULL,
	`actor_id` integer,
	`actor_label` text,
	`action` text NOT NULL,
	`target_type` text NOT NULL,
	`target_id` integer,
	`target_label` text,
	`channel` text,
	`ip` text,
	`user_agent` text,
	`changes` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_action_idx` ON `audit_log` (`action`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_target_idx` ON `audit_log` (`target_type`,`target_id`);--> statement-breakpoint
CREATE INDEX `audit_log_created_idx` ON `audit_log` (`created_at`);--> statement-breakpoint
CREATE TABLE `channels` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`slug` text NOT NULL,
	`sender_email` text,
	`sender_name` text,
	`reply_to` text,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`physical_address` text,
	`monthly_send_quota` integer,
	`is_default` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `channels_slug_unique` ON `channels` (`slug`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer,
	`type` text NOT NULL,
	`created_at` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`data` text NOT NULL,
	`subscriber_id` integer,
	`email` text,
	`broadcast_id` integer,
	`transactional_id` integer
);
--> statement-breakpoint
CREATE INDEX `events_channel_idx` ON `events` (`channel_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_type_idx` ON `events` (`type`,`id`);--> statement-breakpoint
CREATE INDEX `events_created_idx` ON `events` (`created_at`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
