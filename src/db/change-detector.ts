/**
 * Tells, cheaply, whether another connection (e.g. the `mailroom token revoke` CLI) committed since
 * the last call, so in-memory caches never serve stale auth data.
 *
 * `PRAGMA data_version` is authoritative but costs ~3 µs. The WAL-index header at the start of the
 * `-shm` file (memory-mapped, shared by every connection) changes on *any* commit: its frame count,
 * running frame checksum, salts and header checksum (bytes 16–47) move with every appended frame and
 * every WAL restart. Reading them is a few memory loads; only when they moved, ask `data_version`.
 * (The header's `iChange` field is not usable: it is not a monotonic commit counter across processes.)
 */
import { existsSync } from "node:fs";
import type { Database } from "./client";

/** mxFrame, nPage, aFrameCksum[2], aSalt[2], aCksum[2] of SQLite's WalIndexHdr (first copy): 8 u32 words. */
const HEADER_STATE = { offset: 16, words: 8 };

export function createForeignWriteDetector(database: Database): () => boolean {
  const dataVersion = database.raw.prepare("PRAGMA data_version");
  const readDataVersion = () => Number(Object.values(dataVersion.get() as Record<string, number>)[0]);
  let lastVersion = readDataVersion();
  const header = mapWalIndexHeader(database.path);
  const last = new Uint32Array(HEADER_STATE.words);
  const moved = (): boolean => {
    let changed = false;
    for (let i = 0; i < HEADER_STATE.words; i++) {
      const word = header![i];
      if (word !== last[i]) {
        last[i] = word;
        changed = true;
      }
    }
    return changed;
  };
  if (header) moved();

  return () => {
    if (header && !moved()) return false;
    const version = readDataVersion();
    if (version === lastVersion) return false;
    lastVersion = version;
    return true;
  };
}

/** The header words, in native byte order (as SQLite writes the WAL index; only changes matter here). */
function mapWalIndexHeader(dbPath: string): Uint32Array | null {
  const bun = (globalThis as { Bun?: { mmap?: (path: string, opts?: object) => Uint8Array } }).Bun;
  const shm = `${dbPath}-shm`;
  if (!bun?.mmap || dbPath === ":memory:" || !existsSync(shm)) return null;
  try {
    const bytes = bun.mmap(shm, { shared: true });
    return bytes.byteLength >= HEADER_STATE.offset + HEADER_STATE.words * 4 ? new Uint32Array(bytes.buffer, bytes.byteOffset + HEADER_STATE.offset, HEADER_STATE.words) : null;
  } catch {
    return null;
  }
}
