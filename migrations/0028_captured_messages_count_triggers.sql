-- Custom migration (drizzle-kit does not model triggers): keeps captured_messages_count in step with
-- captured_messages for every writer (capture, API deletes, retention, channel cascades). Keep these
-- statements when migrations are squashed.
INSERT INTO `captured_messages_count` (`id`, `total`) SELECT 1, count(*) FROM `captured_messages`;
--> statement-breakpoint
CREATE TRIGGER `captured_messages_count_insert` AFTER INSERT ON `captured_messages` BEGIN
  UPDATE `captured_messages_count` SET `total` = `total` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `captured_messages_count_delete` AFTER DELETE ON `captured_messages` BEGIN
  UPDATE `captured_messages_count` SET `total` = `total` - 1 WHERE `id` = 1;
END;
