/**
 * A real small disk for fault tests: a 4 MiB tmpfs mounted on a temp dir (needs root; `refused`
 * says why when it cannot be mounted, and the test skips with that reason), filled with a file
 * until the file system says ENOSPC, freed by deleting it.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./harness";

export interface SmallDisk {
  dir: string;
  /** Why the tmpfs could not be mounted (null: mounted). */
  refused: string | null;
  /** Writes zeros until the file system refuses. */
  fill(): void;
  /** Deletes the filler: the space is back. */
  free(): void;
  /** Frees, unmounts and removes the dir (call after the server using it stopped). */
  remove(): void;
}

export function mountSmallDisk(prefix: string): SmallDisk {
  const dir = tempDir(prefix);
  const filler = join(dir, "filler");
  let refused: string | null = null;
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    refused = String((err as { stderr?: Buffer }).stderr ?? err).trim() || "mount failed";
  }
  return {
    dir,
    refused,
    fill() {
      const fd = openSync(filler, "w");
      const chunk = Buffer.alloc(4096);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOSPC") throw err;
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    remove() {
      rmSync(filler, { force: true });
      // Lazy: SQLite frees the file only once its statements are garbage-collected (close_v2).
      if (!refused) execFileSync("umount", ["--lazy", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
