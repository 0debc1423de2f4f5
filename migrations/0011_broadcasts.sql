CREATE TABLE `broadcast_links` (
	`broadcast_id` integer NOT NULL,
	`link_index` integer NOT NULL,
	`url` text NOT NULL,
	PRIMARY KEY(`broadcast_id`, `link_index`),
	FOREIGN KEY (`broadcast_id`) REFERENCES `broadcasts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `broadcast_recipients` (
	`broadcast_id` integer NOT NULL,
	`subscriber_id` integer NOT NULL,
	PRIMARY KEY(`broadcast_id`, `subscriber_id`),
	FOREIGN KEY (`broadcast_id`) REFERENCES `broadcasts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `broadcasts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`name` text NOT NULL,
	`subject` text NOT NULL,
	`preheader` text,
	`body` text NOT NULL,
	`html_body` integer DEFAULT true NOT NULL,
	`reply_to` text,
	`status` text DEFAULT 'draft' NOT NULL,
	`track_opens` integer DEFAULT false NOT NULL,
	`track_clicks` integer DEFAULT false NOT NULL,
	`include_unsubscribe_link` integer DEFAULT true NOT NULL,
	`segment_ids` text NOT NULL,
	`excluded_segment_ids` text NOT NULL,
	`email_server_ids` text NOT NULL,
	`tags` text NOT NULL,
	`total_recipients` integer DEFAULT 0 NOT NULL,
	`enqueued_count` integer DEFAULT 0 NOT NULL,
	`fanout_cursor` integer DEFAULT 0 NOT NULL,
	`scheduled_send_at` integer,
	`scheduled_timezone` text,
	`sent_at` integer,
	`failure_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `broadcasts_channel_idx` ON `broadcasts` (`channel_id`,`id`);--> statement-breakpoint
CREATE INDEX `broadcasts_status_idx` ON `broadcasts` (`status`,`scheduled_send_at`);--> statement-breakpoint
CREATE INDEX `events_broadcast_idx` ON `events` (`broadcast_id`,`type`,`subscriber_id`,`occurred_at`) WHERE broadcast_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX `messages_broadcast_idx` ON `messages` (`broadcast_id`,`status`) WHERE broadcast_id IS NOT NULL;