DROP INDEX `messages_due_idx`;--> statement-breakpoint
DROP INDEX `messages_lease_idx`;--> statement-breakpoint
ALTER TABLE `messages` ADD `lane` text DEFAULT 'priority' NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `waiting_for` text;--> statement-breakpoint
CREATE INDEX `messages_claim_priority_idx` ON `messages` (`lane`,`next_attempt_at`) WHERE next_attempt_at IS NOT NULL AND lease_expires_at IS NULL;--> statement-breakpoint
CREATE INDEX `messages_claim_bulk_idx` ON `messages` (`lane`,`channel_id`,`next_attempt_at`) WHERE next_attempt_at IS NOT NULL AND lease_expires_at IS NULL;--> statement-breakpoint
CREATE INDEX `messages_waiting_idx` ON `messages` (`channel_id`) WHERE waiting_for IS NOT NULL;--> statement-breakpoint
CREATE INDEX `messages_lease_idx` ON `messages` (`lease_expires_at`) WHERE lease_expires_at IS NOT NULL;