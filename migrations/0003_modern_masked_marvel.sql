CREATE TABLE `captured_messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`outbound_message_id` integer NOT NULL,
	`transactional_id` integer,
	`broadcast_id` integer,
	`sequence_step_id` integer,
	`message_id` text,
	`from` text,
	`to` text NOT NULL,
	`cc` text NOT NULL,
	`envelope_from` text,
	`envelope_to` text NOT NULL,
	`subject` text,
	`size` integer NOT NULL,
	`has_html` integer NOT NULL,
	`has_text` integer NOT NULL,
	`attachments` text NOT NULL,
	`raw` blob NOT NULL,
	`received_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `captured_messages_channel_idx` ON `captured_messages` (`channel_id`,`id`);--> statement-breakpoint
CREATE INDEX `captured_messages_received_idx` ON `captured_messages` (`received_at`);--> statement-breakpoint
CREATE INDEX `captured_messages_transactional_idx` ON `captured_messages` (`transactional_id`);--> statement-breakpoint
CREATE INDEX `captured_messages_broadcast_idx` ON `captured_messages` (`broadcast_id`);