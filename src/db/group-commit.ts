/**
 * Group commit: writes that arrive in the same turn of the event loop share one transaction. Each
 * runs in its own savepoint (a refused one — a 402, a 422 — rolls back alone), and every promise
 * resolves only after the shared COMMIT, so nothing is answered before it is durable. A commit
 * writes each touched page once for the whole group: concurrent sends cost a fraction of a commit
 * each instead of one commit each.
 */
import type { Database, Db } from "./client";

/** Writes in one group at most; more wait for the next one (bounds the time the write lock is held). */
const MAX_GROUP = 256;

interface Pending {
  work: (db: Db) => unknown;
  resolve: (value: any) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly begin;
  private readonly commit;
  private readonly rollback;
  private readonly savepoint;
  private readonly release;
  private readonly rollbackTo;

  constructor(private readonly database: Database) {
    const raw = database.raw;
    this.begin = raw.prepare("BEGIN IMMEDIATE");
    this.commit = raw.prepare("COMMIT");
    this.rollback = raw.prepare("ROLLBACK");
    this.savepoint = raw.prepare("SAVEPOINT group_write");
    this.release = raw.prepare("RELEASE group_write");
    this.rollbackTo = raw.prepare("ROLLBACK TO group_write");
  }

  /**
   * Runs `work` inside the next group's transaction (on this connection's `db`; it must not open a
   * transaction of its own) and resolves with its result once the group has committed.
   * Rejects with work's own error (its savepoint rolled back), or the commit's error.
   */
  run<T>(work: (db: Db) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const group = this.queue.splice(0, MAX_GROUP);
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => this.flush());
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.begin.run();
    } catch (error) {
      for (const p of group) p.reject(error);
      return;
    }
    try {
      for (const p of group) {
        this.savepoint.run();
        try {
          outcomes.push({ ok: true, value: p.work(this.database.db) });
          this.release.run();
        } catch (error) {
          this.rollbackTo.run();
          this.release.run();
          outcomes.push({ ok: false, error });
        }
      }
      this.commit.run();
    } catch (error) {
      try {
        this.rollback.run();
      } catch {
        // Already rolled back by SQLite (e.g. after SQLITE_FULL).
      }
      for (const p of group) p.reject(error);
      return;
    }
    group.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }
}
