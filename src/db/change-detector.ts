/**
 * Tells whether another connection (e.g. the `mailroom token revoke` CLI) committed since the last
 * check, so in-memory caches never serve stale auth data. `PRAGMA data_version` is SQLite's
 * supported signal for this (~3 µs); it does not move for this connection's own commits.
 *
 * NB! Never read SQLite's own files (`-shm`, `-wal`) from our code, not even by mapping them: SQLite's
 * locks are POSIX locks, which the process loses when it closes *any* descriptor of the file. Without
 * its shared lock on `-shm` the server looks gone to the CLI, which then rebuilds the WAL index
 * under the running server (it died with SIGBUS: issue 18, D1).
 */
import type { Database } from "./client";

/** How long an unforced check may trust the previous answer (lookups repeat many times per request). */
const MAX_AGE_MS = 2;

/**
 * Returns `changed(fresh)`: true once per foreign commit. Unless `fresh`, the version is read at most
 * every few milliseconds; pass `fresh` where staleness matters (authenticating a request).
 */
export function createForeignWriteDetector(database: Database, maxAgeMs = MAX_AGE_MS): (fresh?: boolean) => boolean {
  const dataVersion = database.raw.prepare("PRAGMA data_version");
  const readDataVersion = () => Number(Object.values(dataVersion.get() as Record<string, number>)[0]);
  let lastVersion = readDataVersion();
  let checkedAt = performance.now();
  return (fresh = false) => {
    const now = performance.now();
    if (!fresh && now - checkedAt < maxAgeMs) return false;
    checkedAt = now;
    const version = readDataVersion();
    if (version === lastVersion) return false;
    lastVersion = version;
    return true;
  };
}
