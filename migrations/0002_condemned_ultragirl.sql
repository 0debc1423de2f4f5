CREATE TABLE `messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`kind` text NOT NULL,
	`source` text NOT NULL,
	`status` text NOT NULL,
	`recipient_email` text NOT NULL,
	`recipient_name` text,
	`subscriber_id` integer,
	`subject` text,
	`body` text,
	`preheader` text,
	`reply_to` text,
	`template_id` integer,
	`data` text,
	`include_unsubscribe_link` integer DEFAULT false NOT NULL,
	`track_opens` integer DEFAULT false NOT NULL,
	`track_clicks` integer DEFAULT false NOT NULL,
	`raw_mime` blob,
	`message_id` text NOT NULL,
	`broadcast_id` integer,
	`sequence_step_id` integer,
	`email_server_id` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`lease_expires_at` integer,
	`queue_at` integer NOT NULL,
	`sent_at` integer,
	`failed_at` integer,
	`failure_reason` text,
	`smtp_response` text,
	`opened_at` integer,
	`clicked_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `messages_due_idx` ON `messages` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `messages_channel_kind_idx` ON `messages` (`channel_id`,`kind`,`id`);--> statement-breakpoint
CREATE INDEX `messages_server_sent_idx` ON `messages` (`email_server_id`,`sent_at`);--> statement-breakpoint
CREATE TABLE `subscriber_tags` (
	`subscriber_id` integer NOT NULL,
	`channel_id` integer NOT NULL,
	`tag` text NOT NULL,
	PRIMARY KEY(`subscriber_id`, `tag`),
	FOREIGN KEY (`subscriber_id`) REFERENCES `subscribers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `subscriber_tags_channel_tag_idx` ON `subscriber_tags` (`channel_id`,`tag`,`subscriber_id`);--> statement-breakpoint
CREATE TABLE `subscribers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`email` text NOT NULL,
	`first_name` text,
	`last_name` text,
	`ip_address` text,
	`is_active` integer DEFAULT true NOT NULL,
	`source` text DEFAULT 'api_subscription' NOT NULL,
	`subscribed_at` integer,
	`unsubscribed_at` integer,
	`confirmed_at` integer,
	`confirmation_sent_at` integer,
	`bounced_at` integer,
	`complained_at` integer,
	`last_email_sent_at` integer,
	`last_email_opened_at` integer,
	`last_email_clicked_at` integer,
	`total_emails_sent` integer DEFAULT 0 NOT NULL,
	`total_emails_opened` integer DEFAULT 0 NOT NULL,
	`total_emails_clicked` integer DEFAULT 0 NOT NULL,
	`tags` text NOT NULL,
	`custom_data` text NOT NULL,
	`redacted_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `subscribers_channel_email_idx` ON `subscribers` (`channel_id`,`email`);--> statement-breakpoint
CREATE INDEX `subscribers_channel_id_idx` ON `subscribers` (`channel_id`,`id`);--> statement-breakpoint
CREATE TABLE `suppressions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer,
	`email` text NOT NULL,
	`reason` text DEFAULT 'manual' NOT NULL,
	`source` text DEFAULT 'api' NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `suppressions_channel_email_idx` ON `suppressions` (`channel_id`,`email`) WHERE channel_id IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `suppressions_global_email_idx` ON `suppressions` (`email`) WHERE channel_id IS NULL;--> statement-breakpoint
CREATE TABLE `templates` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`label` text NOT NULL,
	`subject` text,
	`preheader` text,
	`body` text,
	`html_body` integer DEFAULT true NOT NULL,
	`template_purpose` text DEFAULT 'general' NOT NULL,
	`confirmation_text` text,
	`default_confirmation` integer DEFAULT false NOT NULL,
	`confirmation_page_settings` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `templates_channel_label_idx` ON `templates` (`channel_id`,`label`);