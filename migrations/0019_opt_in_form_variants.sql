ALTER TABLE `opt_in_forms` ADD `parent_form_id` integer REFERENCES opt_in_forms(id);--> statement-breakpoint
ALTER TABLE `opt_in_forms` ADD `variant_name` text;--> statement-breakpoint
ALTER TABLE `opt_in_forms` ADD `variant_weight` integer;--> statement-breakpoint
CREATE INDEX `opt_in_forms_parent_idx` ON `opt_in_forms` (`parent_form_id`) WHERE parent_form_id IS NOT NULL;