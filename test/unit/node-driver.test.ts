import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { channels, settings } from "@/db/schema";
import { tempDir } from "../harness";

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the DB module opens, migrates and writes under Node via better-sqlite3; Bun reads the same file", () => {
  const path = join(dir, "node.db");
  const run = Bun.spawnSync(["node", "--import", "tsx", "--import", "./test/node/text-loader.mjs", "test/node/open-db.ts", path], { cwd: join(import.meta.dir, "../.."), env: process.env });
  expect(run.stderr.toString()).toBe("");
  expect(run.exitCode).toBe(0);
  const out = JSON.parse(run.stdout.toString().trim());
  expect(out.driver).toBe("better-sqlite3");
  expect(out.applied).toBeGreaterThan(0);
  expect(Object.values(out.journal)[0]).toBe("wal");
  expect(out.rows).toContainEqual({ key: "written_by", value: "node" });

  const database = openDb(path);
  expect(runMigrations(database.db)).toEqual([]);
  expect(database.db.select().from(settings).all()).toContainEqual({ key: "written_by", value: "node" });
  expect(database.db.select().from(channels).all()).toEqual([]);
  database.close();
});
