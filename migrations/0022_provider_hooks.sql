CREATE TABLE `provider_hook_events` (
	`provider` text NOT NULL,
	`event_id` text NOT NULL,
	`email_server_id` integer NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`provider`, `event_id`)
);
--> statement-breakpoint
CREATE INDEX `provider_hook_events_received_idx` ON `provider_hook_events` (`received_at`);--> statement-breakpoint
ALTER TABLE `email_servers` ADD `webhook_signing_key_enc` text;--> statement-breakpoint
ALTER TABLE `email_servers` ADD `webhook_public_key_enc` text;--> statement-breakpoint
ALTER TABLE `email_servers` ADD `webhook_username` text;--> statement-breakpoint
ALTER TABLE `email_servers` ADD `webhook_password_enc` text;--> statement-breakpoint
ALTER TABLE `email_servers` ADD `sns_topic_arn` text;