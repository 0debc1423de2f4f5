/**
 * Applies the migrations embedded in the binary (src/db/migrations.gen.ts) through drizzle's own
 * migrate step: the list built here is identical to what drizzle's folder reader builds.
 */
import { createHash } from "node:crypto";
import type { Db } from "./client";
import { embeddedJournal, embeddedSql } from "./migrations.gen";

export interface MigrationMeta {
  sql: string[];
  bps: boolean;
  folderMillis: number;
  hash: string;
}

/** The embedded migrations in drizzle's MigrationMeta form. */
export function embeddedMigrations(): MigrationMeta[] {
  return embeddedJournal.entries.map((entry) => {
    const query = embeddedSql[entry.tag];
    return {
      sql: query.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: createHash("sha256").update(query).digest("hex"),
    };
  });
}

/** Applies every pending migration in one transaction; returns the tags applied. */
export function runMigrations(db: Db): string[] {
  const before = appliedCount(db);
  const migrations = embeddedMigrations();
  (db as unknown as { dialect: { migrate: Function }; session: unknown }).dialect.migrate(
    migrations,
    (db as unknown as { session: unknown }).session,
    {},
  );
  return embeddedJournal.entries.slice(before).map((e) => e.tag);
}

/** Number of migrations already applied to this database (0 on an empty file). */
export function appliedCount(db: Db): number {
  const raw = (db as unknown as { $client: { prepare(s: string): { get(): unknown } } }).$client;
  const exists = raw.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='__drizzle_migrations'").get();
  if (!exists) return 0;
  return (raw.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n;
}

/** Latest schema version this build knows (the tag of the last migration). */
export const schemaVersion = () => embeddedJournal.entries.at(-1)?.tag ?? "none";
