-- Custom migration (drizzle-kit does not model triggers): keeps subscriber_counts in step with
-- subscribers for every writer. Keep these statements when migrations are squashed.
INSERT INTO `subscriber_counts` (`channel_id`, `total`)
  SELECT `channel_id`, count(*) FROM `subscribers` GROUP BY `channel_id`;
--> statement-breakpoint
CREATE TRIGGER `subscribers_count_insert` AFTER INSERT ON `subscribers` BEGIN
  INSERT INTO `subscriber_counts` (`channel_id`, `total`) VALUES (NEW.`channel_id`, 1)
    ON CONFLICT (`channel_id`) DO UPDATE SET `total` = `total` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `subscribers_count_delete` AFTER DELETE ON `subscribers` BEGIN
  UPDATE `subscriber_counts` SET `total` = `total` - 1 WHERE `channel_id` = OLD.`channel_id`;
END;
