CREATE TABLE `subscriber_counts` (
	`channel_id` integer PRIMARY KEY NOT NULL,
	`total` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `suppressions_channel_id_idx` ON `suppressions` (`channel_id`,`id`);