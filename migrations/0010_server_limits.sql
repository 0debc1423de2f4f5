ALTER TABLE `email_servers` ADD `emails_per_minute` integer;--> statement-breakpoint
ALTER TABLE `email_servers` ADD `emails_per_day` integer;--> statement-breakpoint
ALTER TABLE `email_servers` ADD `max_connections` integer DEFAULT 5 NOT NULL;