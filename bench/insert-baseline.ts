/**
 * The accept baseline: single-row INSERT transactions of a transactional-sized row into a fresh
 * bun:sqlite file (WAL, synchronous=NORMAL, as Mailroom opens it). Returns rows per second.
 */
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { tmp } from "./lib";

export function insertBaseline(rows: number, body: string): number {
  const dir = tmp("insert");
  const db = new Database(join(dir, "baseline.db"), { create: true });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  db.exec("CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, channel_id INTEGER, recipient_email TEXT, subject TEXT, body TEXT, status TEXT, created_at INTEGER)");
  const insert = db.prepare("INSERT INTO messages (channel_id, recipient_email, subject, body, status, created_at) VALUES (1, ?, ?, ?, 'queued', ?)");
  const t0 = performance.now();
  for (let i = 0; i < rows; i++) db.transaction(() => insert.run(`r${i}@example.com`, `Order ${i}`, body, Date.now()))();
  const perSec = rows / ((performance.now() - t0) / 1000);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return perSec;
}
