CREATE TABLE `email_servers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`label` text NOT NULL,
	`vendor` text DEFAULT 'smtp' NOT NULL,
	`delivery_method` text DEFAULT 'smtp' NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`smtp_address` text NOT NULL,
	`smtp_port` integer DEFAULT 587 NOT NULL,
	`smtp_username` text,
	`smtp_password_enc` text,
	`smtp_authentication` text,
	`smtp_enable_starttls_auto` integer DEFAULT true NOT NULL,
	`smtp_tls` integer DEFAULT false NOT NULL,
	`emails_per_hour` integer,
	`priority` integer DEFAULT 100 NOT NULL,
	`use_for_broadcasts` integer DEFAULT true NOT NULL,
	`use_for_sequences` integer DEFAULT true NOT NULL,
	`use_for_transactionals` integer DEFAULT true NOT NULL,
	`include_unsubscribe_header` integer DEFAULT true NOT NULL,
	`use_custom_unsubscribe_link` integer DEFAULT false NOT NULL,
	`custom_unsubscribe_link` text,
	`connection_failed_at` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `email_servers_channel_idx` ON `email_servers` (`channel_id`,`priority`,`id`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`token_id` integer NOT NULL,
	`key` text NOT NULL,
	`fingerprint` text NOT NULL,
	`response_status` integer NOT NULL,
	`response_body` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`token_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_created_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
ALTER TABLE `messages` ADD `raw_of` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `from_email` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `server_ids` text;--> statement-breakpoint
CREATE INDEX `messages_channel_recipient_idx` ON `messages` (`channel_id`,`recipient_email`);--> statement-breakpoint
CREATE INDEX `messages_lease_idx` ON `messages` (`lease_expires_at`);