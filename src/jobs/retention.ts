/**
 * A retention job: deletes what is past its keep time, in bounded batches so a large backlog never
 * holds the write lock for long; a full batch asks the runner for another tick at once.
 */
import type { Job } from "./runner";

/** Rows deleted per statement. */
export const RETENTION_BATCH = 10_000;
const MINUTE = 60_000;

/** `prune(now, batch)` deletes up to `batch` rows and returns how many it deleted. */
export function retentionJob(name: string, prune: (now: number, batch: number) => number): Job {
  return { name, intervalMs: MINUTE, tick: (now) => prune(now, RETENTION_BATCH) >= RETENTION_BATCH };
}
