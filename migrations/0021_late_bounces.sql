CREATE TABLE `delivery_reports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` integer NOT NULL,
	`channel_id` integer NOT NULL,
	`email` text NOT NULL,
	`kind` text NOT NULL,
	`source` text NOT NULL,
	`diagnostic` text,
	`occurred_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `delivery_reports_message_kind_idx` ON `delivery_reports` (`message_id`,`kind`);--> statement-breakpoint
CREATE INDEX `delivery_reports_soft_idx` ON `delivery_reports` (`channel_id`,`email`,`occurred_at`) WHERE kind = 'soft_bounce';--> statement-breakpoint
CREATE TABLE `inbound_messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer,
	`message_id` integer,
	`classification` text NOT NULL,
	`result` text NOT NULL,
	`mail_from` text,
	`rcpt_to` text NOT NULL,
	`from_header` text,
	`subject` text,
	`recipient` text,
	`diagnostic` text,
	`raw_size` integer NOT NULL,
	`remote_ip` text,
	`received_at` integer NOT NULL,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `inbound_messages_channel_idx` ON `inbound_messages` (`channel_id`,`id`);--> statement-breakpoint
CREATE INDEX `inbound_messages_received_idx` ON `inbound_messages` (`received_at`);--> statement-breakpoint
CREATE INDEX `messages_message_id_idx` ON `messages` (`message_id`);--> statement-breakpoint
-- A bounce reported after the message was sent (DSN, provider event): the message was counted as
-- sent and delivered then; now it counts as bounced and no longer as delivered, not as sent again.
DROP TRIGGER `reputation_bounced_failed`;
--> statement-breakpoint
CREATE TRIGGER `reputation_bounced_failed` AFTER UPDATE OF `status` ON `messages`
WHEN NEW.`status` IN ('bounced', 'failed') AND OLD.`status` <> NEW.`status` BEGIN
  INSERT INTO `reputation_counts` (`channel_id`, `domain`, `day`, `sent`, `delivered`, `bounced`, `failed`)
    VALUES (NEW.`channel_id`, lower(replace(substr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), instr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), '@') + 1), '>', '')), NEW.`created_at` / 86400000, OLD.`sent_at` IS NULL, -(OLD.`sent_at` IS NOT NULL), NEW.`status` = 'bounced', NEW.`status` = 'failed')
    ON CONFLICT (`channel_id`, `domain`, `day`) DO UPDATE SET `sent` = `sent` + excluded.`sent`, `delivered` = `delivered` + excluded.`delivered`, `bounced` = `bounced` + excluded.`bounced`, `failed` = `failed` + excluded.`failed`;
END;
