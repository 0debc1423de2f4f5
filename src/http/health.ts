/**
 * What /healthz says about the database (docs/api-reference.md §19: 200 or 503), and the 503 a write that cannot
 * reach the disk becomes. Writability is probed for real: an UPSERT of one `settings` row, at most
 * once per second (`BEGIN IMMEDIATE; ROLLBACK` writes no page, so it passes on a full disk). A
 * request whose write failed for storage reasons counts as a failed probe at once.
 */
import { isBusy, isStorageFailure, sqliteCode } from "@/db/errors";
import { prepareSettingWrite } from "@/db/settings";
import type { Deps } from "@/deps";
import { AppError } from "@/lib/errors";

export type DatabaseStatus = "ok" | "error" | "not_writable";

const PROBE_INTERVAL_MS = 1000;
/** Freeing space takes an operator: clients are asked to wait longer than for a busy lock. */
const STORAGE_RETRY_AFTER_SECONDS = "10";

export const storageRetryHeaders = { "retry-after": STORAGE_RETRY_AFTER_SECONDS } as const;

export const storageUnavailable = () =>
  new AppError(
    "unavailable",
    "Server error (503): storage unavailable",
    { message: "The database cannot be written (disk full or read-only); retry later" },
    storageRetryHeaders,
  );

export class DatabaseHealth {
  private status: DatabaseStatus = "ok";
  private checkedAt = -Infinity;
  private readonly probeWrite;

  constructor(private readonly deps: Pick<Deps, "database" | "clock" | "log">) {
    this.probeWrite = prepareSettingWrite(deps.database.raw, "healthz_probe");
  }

  /** The database's state, probed at most once per second (probes hit /healthz often). */
  check(): DatabaseStatus {
    const now = this.deps.clock.now();
    if (now - this.checkedAt >= PROBE_INTERVAL_MS) {
      this.checkedAt = now;
      this.probe(now);
    }
    return this.status;
  }

  /** A request's write failed with a storage error (`code`): reported at once, probed again in a second. */
  storageFailed(code: string): void {
    this.checkedAt = this.deps.clock.now();
    this.enter("not_writable", code);
  }

  private probe(now: number): void {
    try {
      this.probeWrite(String(now));
      this.enter("ok", null);
    } catch (err) {
      const code = sqliteCode(err);
      // A lock held past busy_timeout says nothing about the disk: the last answer stands.
      if (isBusy(code)) return;
      this.enter(isStorageFailure(code) ? "not_writable" : "error", code ?? String(err));
    }
  }

  /** Logs each change of state once (not every failing request of an outage). */
  private enter(status: DatabaseStatus, code: string | null): void {
    if (status === this.status) return;
    this.status = status;
    if (status === "ok") this.deps.log.info("db.writable");
    else this.deps.log.error(status === "not_writable" ? "db.not_writable" : "db.error", { code });
  }
}
