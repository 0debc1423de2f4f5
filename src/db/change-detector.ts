/**
 * Tells, cheaply, whether another connection (e.g. the `mailroom token revoke` CLI) committed since
 * the last call, so in-memory caches never serve stale auth data.
 *
 * `PRAGMA data_version` is authoritative but costs ~3 µs; the WAL-index header in the `-shm` file
 * (memory-mapped, shared with every connection) has a change counter that moves on *any* commit and
 * costs a memory read. So: read the counter; only when it moved, ask `data_version`.
 */
import { existsSync } from "node:fs";
import type { Database } from "./client";

/** Offset of `iChange` in SQLite's WalIndexHdr (first copy, native byte order). */
const ICHANGE_OFFSET = 8;

export function createForeignWriteDetector(database: Database): () => boolean {
  const dataVersion = database.raw.prepare("PRAGMA data_version");
  const readDataVersion = () => Number(Object.values(dataVersion.get() as Record<string, number>)[0]);
  let lastVersion = readDataVersion();
  const header = mapWalIndexHeader(database.path);
  let lastCounter = header ? header.getUint32(ICHANGE_OFFSET, true) : -1;

  return () => {
    if (header) {
      const counter = header.getUint32(ICHANGE_OFFSET, true);
      if (counter === lastCounter) return false;
      lastCounter = counter;
    }
    const version = readDataVersion();
    if (version === lastVersion) return false;
    lastVersion = version;
    return true;
  };
}

function mapWalIndexHeader(dbPath: string): DataView | null {
  const bun = (globalThis as { Bun?: { mmap?: (path: string, opts?: object) => Uint8Array } }).Bun;
  const shm = `${dbPath}-shm`;
  if (!bun?.mmap || dbPath === ":memory:" || !existsSync(shm)) return null;
  try {
    const bytes = bun.mmap(shm, { shared: true });
    return bytes.byteLength >= 48 ? new DataView(bytes.buffer, bytes.byteOffset, 48) : null;
  } catch {
    return null;
  }
}
