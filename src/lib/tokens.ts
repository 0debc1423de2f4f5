/**
 * Access token values (docs/api-reference.md §2.1): `mr_` + 32 random base62 + 6-char base62 CRC-32 checksum.
 * Only the SHA-256 hex of a value is ever stored; the value is shown once.
 */
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX = "mr_";
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
export const TOKEN_LENGTH = PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
const TOKEN_SHAPE = /^mr_[0-9A-Za-z]{38}$/;

/** Uniform base62 string from the CSPRNG (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

function toBase62(n: number, width: number): string {
  let out = "";
  do {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  } while (n > 0);
  return out.padStart(width, "0");
}

function checksum(random: string): string {
  return toBase62(Bun.hash.crc32(random) >>> 0, CHECKSUM_LENGTH);
}

/** A fresh token value. */
export function generateToken(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return PREFIX + random + checksum(random);
}

/** Shape check only (`mr_` + 38 base62): cheap, done first on every request. */
export const hasTokenShape = (value: string): boolean => value.length === TOKEN_LENGTH && TOKEN_SHAPE.test(value);

/** Checksum check: a value that fails it is rejected without touching the database. */
export function hasValidChecksum(value: string): boolean {
  const random = value.slice(PREFIX.length, PREFIX.length + RANDOM_LENGTH);
  return value.slice(PREFIX.length + RANDOM_LENGTH) === checksum(random);
}


export function hashToken(value: string): string {
  return Bun.SHA256.hash(value, "hex") as unknown as string;
}

/** `mr_` + first 2 random chars + 8 bullets + last 4 chars. */
export function redactToken(value: string): string {
  return `${PREFIX}${value.slice(3, 5)}${"•".repeat(8)}${value.slice(-4)}`;
}
