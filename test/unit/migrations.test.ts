import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { openDb } from "@/db/client";
import { appliedCount, embeddedMigrations, runMigrations } from "@/db/migrate";
import { channels } from "@/db/schema";
import { tempDir } from "../harness";

const root = join(import.meta.dir, "../..");

describe("happy", () => {
  test("the embedded migrations equal drizzle's own folder reader (the generated module is in sync)", () => {
    expect(embeddedMigrations()).toEqual(readMigrationFiles({ migrationsFolder: join(root, "migrations") }));
    const sqlFiles = readdirSync(join(root, "migrations")).filter((f) => f.endsWith(".sql"));
    expect(embeddedMigrations()).toHaveLength(sqlFiles.length);
    const generated = readFileSync(join(root, "src/db/migrations.gen.ts"), "utf8");
    for (const f of sqlFiles) expect(generated).toContain(`migrations/${f}`);
  });

  test("an empty file gets the current schema; a database from an older build is migrated forward, data kept", () => {
    const all = embeddedMigrations();
    expect(all.length).toBeGreaterThan(1);
    const path = join(tempDir(), "old.db");
    const old = openDb(path);
    // Apply only the first migration, as the first build did, and store data.
    (old.db as unknown as { dialect: { migrate: Function }; session: unknown }).dialect.migrate(all.slice(0, 1), (old.db as never as { session: unknown }).session, {});
    old.db.insert(channels).values({ name: "Kept", slug: "kept", created_at: 1, updated_at: 1 }).run();
    expect(appliedCount(old.db)).toBe(1);
    old.close();

    const upgraded = openDb(path);
    const applied = runMigrations(upgraded.db);
    expect(applied).toHaveLength(all.length - 1);
    expect(appliedCount(upgraded.db)).toBe(all.length);
    expect(upgraded.db.select().from(channels).all().map((c) => c.slug)).toEqual(["kept"]);
    expect(runMigrations(upgraded.db)).toEqual([]);
    upgraded.close();
  });
});
