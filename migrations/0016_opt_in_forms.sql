CREATE TABLE `opt_in_forms` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`identifier` text NOT NULL,
	`label` text NOT NULL,
	`form_type` text NOT NULL,
	`widget_type` text NOT NULL,
	`enabled` integer NOT NULL,
	`allowed_embedding_domains` text NOT NULL,
	`theme_settings` text NOT NULL,
	`trigger_settings` text NOT NULL,
	`widget_settings` text NOT NULL,
	`automation_settings` text NOT NULL,
	`security_settings` text NOT NULL,
	`confirmation_email_template_id` integer,
	`welcome_email_template_id` integer,
	`blocks` text NOT NULL,
	`post_submission_blocks` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `opt_in_forms_identifier_unique` ON `opt_in_forms` (`identifier`);--> statement-breakpoint
CREATE INDEX `opt_in_forms_channel_idx` ON `opt_in_forms` (`channel_id`,`id`);