/**
 * Opens the SQLite database: bun:sqlite under Bun, better-sqlite3 under Node (same schema, same
 * drizzle API). WAL, foreign keys and a busy timeout are set on every connection.
 */
import { createRequire } from "node:module";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import * as schema from "./schema";

export type Db = BaseSQLiteDatabase<"sync", unknown, typeof schema>;

/** The driver-neutral subset of a raw connection (bun:sqlite and better-sqlite3 agree on it). */
export interface RawStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
export interface RawDb {
  prepare(sql: string): RawStatement;
  exec(sql: string): void;
  close(): void;
}

export interface Database {
  db: Db;
  raw: RawDb;
  driver: "bun:sqlite" | "better-sqlite3";
  path: string;
  close(): void;
}

/** Thrown when the file exists but is not a usable SQLite database. */
export class DatabaseOpenError extends Error {}

const PRAGMAS = ["PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000", "PRAGMA synchronous = NORMAL"];

// Module names kept out of the bundler's sight: the compiled binary only ever uses bun:sqlite.
const BUN_SQLITE = "bun:sqlite";
const BETTER_SQLITE = "better-sqlite3";
const requireAtRuntime = createRequire(import.meta.url);

/**
 * Opens (creating if missing) the database at `path` (":memory:" allowed).
 * @throws DatabaseOpenError when the file is corrupt or not a database; fs errors pass through.
 */
export function openDb(path: string, options: { readonly?: boolean } = {}): Database {
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
  let raw: RawDb;
  let db: Db;
  if (isBun) {
    const { Database: BunDatabase } = requireAtRuntime(BUN_SQLITE);
    const { drizzle } = requireAtRuntime("drizzle-orm/bun-sqlite");
    const client = new BunDatabase(path, options.readonly ? { readonly: true } : { create: true, strict: true });
    raw = client;
    db = drizzle({ client, schema });
  } else {
    const BetterSqlite = requireAtRuntime(BETTER_SQLITE);
    const { drizzle } = requireAtRuntime("drizzle-orm/better-sqlite3");
    const client = new BetterSqlite(path, { readonly: !!options.readonly });
    raw = client;
    db = drizzle({ client, schema });
  }
  try {
    for (const pragma of options.readonly ? PRAGMAS.slice(1) : PRAGMAS) raw.exec(pragma);
    raw.prepare("SELECT count(*) FROM sqlite_master").get();
  } catch (err) {
    raw.close();
    const message = (err as Error).message;
    if (/not a database|malformed|file is encrypted/i.test(message)) {
      throw new DatabaseOpenError(`${path} is not a valid SQLite database (${message})`);
    }
    throw err;
  }
  return { db, raw, driver: isBun ? "bun:sqlite" : "better-sqlite3", path, close: () => raw.close() };
}
