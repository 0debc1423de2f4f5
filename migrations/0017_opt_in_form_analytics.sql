CREATE TABLE `opt_in_form_days` (
	`form_id` integer NOT NULL,
	`day` text NOT NULL,
	`views` integer DEFAULT 0 NOT NULL,
	`unique_views` integer DEFAULT 0 NOT NULL,
	`submissions` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`form_id`, `day`),
	FOREIGN KEY (`form_id`) REFERENCES `opt_in_forms`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `opt_in_form_visitors` (
	`form_id` integer NOT NULL,
	`day` text NOT NULL,
	`visitor` text NOT NULL,
	PRIMARY KEY(`form_id`, `day`, `visitor`),
	FOREIGN KEY (`form_id`) REFERENCES `opt_in_forms`(`id`) ON UPDATE no action ON DELETE cascade
);
