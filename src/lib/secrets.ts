/**
 * Encryption at rest for stored credentials (SMTP passwords, §9): AES-256-GCM with a 32-byte key
 * kept in `<dataDir>/secret.key` (mode 0600, created on first use). Losing the key file makes the
 * stored passwords unreadable (they must be re-entered); the database alone never reveals them.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";

const VERSION = "v1";
const keys = new Map<string, Buffer>();

/** The data dir's key, created (O_EXCL, 0600) when missing. @throws when the file exists with a wrong size. */
export function dataKey(dataDir: string): Buffer {
  const hit = keys.get(dataDir);
  if (hit) return hit;
  const path = join(dataDir, "secret.key");
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    key = randomBytes(32);
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, key);
      closeSync(fd);
      chmodSync(path, 0o600);
    } catch (e) {
      // Another process created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      key = readFileSync(path);
    }
  }
  if (key.length !== 32) throw new Error(`${path} must hold exactly 32 bytes`);
  keys.set(dataDir, key);
  return key;
}

/** `v1:<iv>:<tag>:<ciphertext>` (base64url parts). */
export function encryptSecret(dataDir: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", dataKey(dataDir), iv);
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [VERSION, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), ct.toString("base64url")].join(":");
}

/** The plaintext of `encryptSecret` output. @throws when the value was not made with this data dir's key. */
export function decryptSecret(dataDir: string, stored: string): string {
  const [version, iv, tag, ct] = stored.split(":");
  if (version !== VERSION || iv === undefined || tag === undefined || ct === undefined) throw new Error("unknown secret format");
  const decipher = createDecipheriv("aes-256-gcm", dataKey(dataDir), Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
}
