CREATE TABLE `reputation_counts` (
	`channel_id` integer NOT NULL,
	`domain` text NOT NULL,
	`day` integer NOT NULL,
	`sent` integer DEFAULT 0 NOT NULL,
	`delivered` integer DEFAULT 0 NOT NULL,
	`bounced` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`complained` integer DEFAULT 0 NOT NULL,
	`opened` integer DEFAULT 0 NOT NULL,
	`clicked` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`channel_id`, `domain`, `day`)
);
--> statement-breakpoint
-- Custom part (drizzle-kit does not model triggers): keeps reputation_counts in step with message
-- outcomes for every writer. Keep these statements when migrations are squashed. The domain is the
-- one of the From actually used: the message's own from_email, else its channel's sender_email.
CREATE TRIGGER `reputation_delivered` AFTER UPDATE OF `sent_at` ON `messages`
WHEN OLD.`sent_at` IS NULL AND NEW.`sent_at` IS NOT NULL BEGIN
  INSERT INTO `reputation_counts` (`channel_id`, `domain`, `day`, `sent`, `delivered`)
    VALUES (NEW.`channel_id`, lower(replace(substr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), instr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), '@') + 1), '>', '')), NEW.`created_at` / 86400000, 1, 1)
    ON CONFLICT (`channel_id`, `domain`, `day`) DO UPDATE SET `sent` = `sent` + 1, `delivered` = `delivered` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `reputation_bounced_failed` AFTER UPDATE OF `status` ON `messages`
WHEN NEW.`status` IN ('bounced', 'failed') AND OLD.`status` <> NEW.`status` BEGIN
  INSERT INTO `reputation_counts` (`channel_id`, `domain`, `day`, `sent`, `bounced`, `failed`)
    VALUES (NEW.`channel_id`, lower(replace(substr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), instr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), '@') + 1), '>', '')), NEW.`created_at` / 86400000, 1, NEW.`status` = 'bounced', NEW.`status` = 'failed')
    ON CONFLICT (`channel_id`, `domain`, `day`) DO UPDATE SET `sent` = `sent` + 1, `bounced` = `bounced` + excluded.`bounced`, `failed` = `failed` + excluded.`failed`;
END;
--> statement-breakpoint
CREATE TRIGGER `reputation_opened` AFTER UPDATE OF `opened_at` ON `messages`
WHEN OLD.`opened_at` IS NULL AND NEW.`opened_at` IS NOT NULL BEGIN
  INSERT INTO `reputation_counts` (`channel_id`, `domain`, `day`, `opened`)
    VALUES (NEW.`channel_id`, lower(replace(substr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), instr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), '@') + 1), '>', '')), NEW.`created_at` / 86400000, 1)
    ON CONFLICT (`channel_id`, `domain`, `day`) DO UPDATE SET `opened` = `opened` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `reputation_clicked` AFTER UPDATE OF `clicked_at` ON `messages`
WHEN OLD.`clicked_at` IS NULL AND NEW.`clicked_at` IS NOT NULL BEGIN
  INSERT INTO `reputation_counts` (`channel_id`, `domain`, `day`, `clicked`)
    VALUES (NEW.`channel_id`, lower(replace(substr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), instr(coalesce(NEW.`from_email`, (SELECT `sender_email` FROM `channels` WHERE `id` = NEW.`channel_id`), ''), '@') + 1), '>', '')), NEW.`created_at` / 86400000, 1)
    ON CONFLICT (`channel_id`, `domain`, `day`) DO UPDATE SET `clicked` = `clicked` + 1;
END;
--> statement-breakpoint
-- A complaint counts against the latest message the channel sent to the address (§12).
CREATE TRIGGER `reputation_complained` AFTER INSERT ON `events`
WHEN NEW.`type` = 'email.complained' BEGIN
  INSERT INTO `reputation_counts` (`channel_id`, `domain`, `day`, `complained`)
    SELECT m.`channel_id`, lower(replace(substr(coalesce(m.`from_email`, c.`sender_email`, ''), instr(coalesce(m.`from_email`, c.`sender_email`, ''), '@') + 1), '>', '')), m.`created_at` / 86400000, 1
    FROM `messages` m JOIN `channels` c ON c.`id` = m.`channel_id`
    WHERE m.`channel_id` = NEW.`channel_id` AND m.`recipient_email` = json_extract(NEW.`data`, '$.recipient_email') AND m.`sent_at` IS NOT NULL
    ORDER BY m.`id` DESC LIMIT 1
    ON CONFLICT (`channel_id`, `domain`, `day`) DO UPDATE SET `complained` = `complained` + 1;
END;
--> statement-breakpoint
-- Mail recorded before this migration.
INSERT INTO `reputation_counts` (`channel_id`, `domain`, `day`, `sent`, `delivered`, `bounced`, `failed`, `opened`, `clicked`)
  SELECT m.`channel_id`, lower(replace(substr(coalesce(m.`from_email`, c.`sender_email`, ''), instr(coalesce(m.`from_email`, c.`sender_email`, ''), '@') + 1), '>', '')) AS d, m.`created_at` / 86400000 AS dy,
    sum(m.`sent_at` IS NOT NULL OR m.`status` IN ('bounced', 'failed')), sum(m.`sent_at` IS NOT NULL), sum(m.`status` = 'bounced'), sum(m.`status` = 'failed'), sum(m.`opened_at` IS NOT NULL), sum(m.`clicked_at` IS NOT NULL)
  FROM `messages` m JOIN `channels` c ON c.`id` = m.`channel_id`
  GROUP BY m.`channel_id`, d, dy;
