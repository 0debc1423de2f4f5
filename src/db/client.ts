/**
 * Opens the SQLite database: bun:sqlite under Bun, better-sqlite3 under Node (same schema, same
 * drizzle API). WAL, foreign keys and a busy timeout are set on every connection.
 */
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import * as schema from "./schema";

export type Db = BaseSQLiteDatabase<"sync", unknown, typeof schema>;

/**
 * One value per SQLite connection, built on first use (prepared statements). Keyed by the drizzle
 * session, which a database handle shares with every transaction and savepoint opened on it: keyed
 * by the handle, each transaction would compile its statements again (~90 µs each). A statement
 * prepared inside a transaction runs in any later one on the same connection.
 */
export function perConnection<T>(build: (db: Db) => T): (db: Db) => T {
  const values = new WeakMap<object, T>();
  return (db) => {
    const key = (db as unknown as { session: object }).session;
    let value = values.get(key);
    if (value === undefined) values.set(key, (value = build(db)));
    return value;
  };
}

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

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

// Literal imports are bundled into the binary; the Node driver's names are kept out of the
// bundler's sight (the binary never uses them, and better-sqlite3 is a native addon).
const BETTER_SQLITE = "better-sqlite3";
const DRIZZLE_BETTER_SQLITE = "drizzle-orm/better-sqlite3";
const driver = isBun
  ? { sqlite: (await import("bun:sqlite")).Database, drizzle: (await import("drizzle-orm/bun-sqlite")).drizzle }
  : { sqlite: (await import(BETTER_SQLITE)).default, drizzle: (await import(DRIZZLE_BETTER_SQLITE)).drizzle };

/**
 * Opens (creating if missing) the database at `path` (":memory:" allowed).
 * @throws DatabaseOpenError when the file is corrupt or not a database; fs errors pass through.
 */
export function openDb(path: string, options: { readonly?: boolean } = {}): Database {
  const client = isBun
    ? new driver.sqlite(path, options.readonly ? { readonly: true } : { create: true, strict: true })
    : new driver.sqlite(path, { readonly: !!options.readonly });
  const raw: RawDb = client;
  const db: Db = driver.drizzle({ client, schema });
  // Transactions take the write lock up front (BEGIN IMMEDIATE): a deferred one that reads and then
  // writes while another process (the CLI) writes fails at once with SQLITE_BUSY instead of
  // waiting busy_timeout. (Nested `tx.transaction` calls are savepoints, unaffected.)
  const deferred = db.transaction.bind(db);
  db.transaction = ((fn, config) => deferred(fn, { behavior: "immediate", ...config })) as Db["transaction"];
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

/** Rows changed by a drizzle `.run()` (bun:sqlite and better-sqlite3 both report `changes`). */
export const changes = (r: unknown): number => (r as { changes?: number }).changes ?? 0;
