/**
 * What every provider adapter shares: the request as received (raw bytes, for signatures over
 * them), the refusals (401 bad signature or stale timestamp, 400 unreadable payload), constant-time
 * comparison, and defensive readers for JSON whose shape the provider, not we, decides.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { AppError } from "@/lib/errors";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "@/lib/json-depth";
import type { ProviderEvent } from "./service";

export interface HookRequest {
  headers: Headers;
  raw: Uint8Array;
  now: number;
}

/**
 * What an adapter read from a verified post. `confirmed`: an SNS subscription was confirmed (no
 * events). `nonce`: a value signed for this post only (Mailgun's token, when the signature does not
 * cover the body): a post with a nonce already seen is a replay, whatever its body says.
 */
export type HookPayload = { events: ProviderEvent[]; confirmed?: boolean; nonce?: string };

/** How old a signed timestamp may be (either way: clocks drift). */
export const MAX_SIGNATURE_AGE_MS = 5 * 60_000;

export const invalidSignature = () => new AppError("unauthorized", "Invalid signature");
export const badPayload = (message: string) => new AppError("bad_request", "Invalid payload", { message });

/** @throws 401 when `signedAtMs` is not a time within MAX_SIGNATURE_AGE_MS of `now`. */
export function checkFresh(signedAtMs: number, now: number, maxAgeMs = MAX_SIGNATURE_AGE_MS): void {
  if (!Number.isFinite(signedAtMs) || Math.abs(now - signedAtMs) > maxAgeMs) throw invalidSignature();
}

/** Constant-time equality of two strings of any lengths (compared as SHA-256 digests). */
export function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** A stable id for an event the provider gives none: the SHA-256 of the parts that make it unique. */
export const derivedId = (...parts: unknown[]) => createHash("sha256").update(JSON.stringify(parts)).digest("base64url");

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** @throws 400 unless the body is UTF-8 JSON nesting at most MAX_JSON_DEPTH levels (as the API's bodies: event ids are built by JSON.stringify, which recurses). */
export function parseJson(raw: Uint8Array): unknown {
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw badPayload("The body is not JSON");
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw badPayload(`JSON nesting exceeds ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw badPayload("The body is not JSON");
  }
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
/** A string field, or null when absent or of another type. */
export const str = (o: Obj, key: string): string | null => (typeof o[key] === "string" ? (o[key] as string) : null);
/** A numeric field given as a number or a numeric string. */
export function num(o: Obj, key: string): number | null {
  const v = o[key];
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : null;
}
/** An ISO-8601 time in ms, or `fallback` when absent or unreadable. */
export function isoTime(value: string | null, fallback: number): number {
  const ms = value ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? ms : fallback;
}
/** Positive integers given as numbers or digit strings (our outbox row ids in provider metadata). */
export function rowId(v: unknown): number | null {
  const n = typeof v === "string" && /^\d{1,15}$/.test(v) ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : null;
}
/** `table[key]` when `key` is one of its own keys (never an Object.prototype member such as `constructor`), else null. */
export const lookup = <T>(table: Readonly<Record<string, T>>, key: string | null): T | null => (key !== null && Object.hasOwn(table, key) ? table[key]! : null);
/** Diagnostic text from the parts present, joined. */
export const joinText = (...parts: unknown[]) => parts.filter((p) => typeof p === "string" || typeof p === "number").map(String).join(" ").trim() || null;
