CREATE TABLE `segment_groups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`segment_id` integer NOT NULL,
	`match_type` text DEFAULT 'all' NOT NULL,
	`position` integer NOT NULL,
	FOREIGN KEY (`segment_id`) REFERENCES `segments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `segment_groups_segment_idx` ON `segment_groups` (`segment_id`,`position`);--> statement-breakpoint
CREATE TABLE `segment_rules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`group_id` integer NOT NULL,
	`field` text NOT NULL,
	`operator` text NOT NULL,
	`value` text,
	`secondary_value` text,
	`rule_type` text NOT NULL,
	`value_type` text,
	`position` integer NOT NULL,
	`is_negative` integer DEFAULT false NOT NULL,
	`case_sensitive` integer DEFAULT false NOT NULL,
	FOREIGN KEY (`group_id`) REFERENCES `segment_groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `segment_rules_group_idx` ON `segment_rules` (`group_id`,`position`);--> statement-breakpoint
CREATE TABLE `segments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `segments_channel_idx` ON `segments` (`channel_id`,`id`);