DROP INDEX `messages_server_sent_idx`;--> statement-breakpoint
CREATE INDEX `messages_server_sent_idx` ON `messages` (`email_server_id`,`sent_at`) WHERE sent_at IS NOT NULL;