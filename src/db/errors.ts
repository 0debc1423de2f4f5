/**
 * SQLite failures that are not the request's fault, told apart by result code. bun:sqlite and
 * better-sqlite3 both put the (extended) code's name in `code`, e.g. `SQLITE_IOERR_WRITE`; drizzle's
 * async paths wrap the driver's error in `cause`.
 */

/** The SQLite result code name of `error` (or of its cause), or null for other errors. */
export function sqliteCode(error: unknown): string | null {
  for (let e = error, hops = 0; e && typeof e === "object" && hops < 3; e = (e as { cause?: unknown }).cause, hops++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
  }
  return null;
}

/** Another connection (e.g. the CLI) held the lock longer than busy_timeout. */
export const isBusy = (code: string | null): boolean => code !== null && /^SQLITE_(BUSY|LOCKED)/.test(code);

/** The database cannot be written: disk full, read-only file or mount, I/O error, file gone. */
export const isStorageFailure = (code: string | null): boolean => code !== null && /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN)/.test(code);
