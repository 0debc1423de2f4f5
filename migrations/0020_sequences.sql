CREATE TABLE `sequence_steps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sequence_id` integer NOT NULL,
	`action` text NOT NULL,
	`label` text,
	`parent_id` integer,
	`branch` text,
	`position` integer DEFAULT 0 NOT NULL,
	`delay` integer,
	`delay_until_time` text,
	`delay_until_timezone` text,
	`subject` text,
	`preheader` text,
	`body` text,
	`html_body` integer,
	`template_id` integer,
	`condition_setting` text,
	`taggify_list` text,
	`target_sequence_id` integer,
	`http_url` text,
	`http_method` text,
	`http_headers` text,
	`http_body` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`sequence_id`) REFERENCES `sequences`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sequence_steps_tree_idx` ON `sequence_steps` (`sequence_id`,`parent_id`);--> statement-breakpoint
CREATE INDEX `sequence_steps_template_idx` ON `sequence_steps` (`template_id`) WHERE template_id IS NOT NULL;--> statement-breakpoint
CREATE TABLE `sequences` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`label` text NOT NULL,
	`active` integer DEFAULT false NOT NULL,
	`track_opens` integer DEFAULT true NOT NULL,
	`track_clicks` integer DEFAULT true NOT NULL,
	`use_any_email_server` integer DEFAULT true NOT NULL,
	`email_server_ids` text NOT NULL,
	`init_tag` text,
	`init_segment_id` integer,
	`entry_point_id` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sequences_channel_idx` ON `sequences` (`channel_id`,`id`);--> statement-breakpoint
CREATE INDEX `sequences_init_tag_idx` ON `sequences` (`channel_id`,`init_tag`) WHERE init_tag IS NOT NULL;--> statement-breakpoint
CREATE INDEX `sequences_init_segment_idx` ON `sequences` (`init_segment_id`) WHERE init_segment_id IS NOT NULL;--> statement-breakpoint
CREATE TABLE `subscriber_sequences` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`sequence_id` integer NOT NULL,
	`subscriber_id` integer NOT NULL,
	`channel_id` integer NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`current_step_id` integer,
	`next_trigger_at` integer,
	`last_message_id` integer,
	`error` text,
	`started_at` integer NOT NULL,
	`completed_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`sequence_id`) REFERENCES `sequences`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`subscriber_id`) REFERENCES `subscribers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `subscriber_sequences_due_idx` ON `subscriber_sequences` (`next_trigger_at`) WHERE status = 'active' AND next_trigger_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX `subscriber_sequences_sequence_idx` ON `subscriber_sequences` (`sequence_id`,`status`,`id`);--> statement-breakpoint
CREATE INDEX `subscriber_sequences_subscriber_idx` ON `subscriber_sequences` (`subscriber_id`);--> statement-breakpoint
CREATE INDEX `subscriber_sequences_step_idx` ON `subscriber_sequences` (`current_step_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `subscriber_sequences_open_idx` ON `subscriber_sequences` (`sequence_id`,`subscriber_id`) WHERE status IN ('active', 'paused');--> statement-breakpoint
ALTER TABLE `messages` ADD `sequence_id` integer;--> statement-breakpoint
CREATE INDEX `messages_sequence_idx` ON `messages` (`subscriber_id`,`sequence_id`) WHERE sequence_id IS NOT NULL;