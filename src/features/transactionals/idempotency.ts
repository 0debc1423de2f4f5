/**
 * Idempotency-Key for `POST /transactionals` (docs/api-reference.md §1.9). Scope (token id, key), 24 h.
 * In-flight keys live in memory (a crash releases them); a 2xx result is stored in the same
 * transaction that commits the message, so a replay after a crash still finds it. A non-2xx
 * releases the key (nothing stored).
 */
import { createHash } from "node:crypto";
import { and, eq, lt, sql } from "drizzle-orm";
import type { Principal } from "@/auth/principal";
import { changes, type Db } from "@/db/client";
import { retentionJob } from "@/jobs/retention";
import { idempotency_keys } from "@/db/schema";
import type { Deps } from "@/deps";
import type { Replay } from "@/http/auth";
import { CsvBody } from "@/input/values";
import { AppError, unprocessable } from "@/lib/errors";

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const KEY_SHAPE = /^[\x20-\x7e]{1,255}$/;

export interface IdempotencyClaim {
  tokenId: number;
  key: string;
  fingerprint: string;
}

/** A request's claim and the in-flight table of its instance (one per app, not per process). */
const claims = new WeakMap<Request, { claim: IdempotencyClaim; inFlight: Map<string, string> }>();
const slot = (c: { tokenId: number; key: string }) => `${c.tokenId}\u0000${c.key}`;

/** JSON with object keys sorted recursively. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** SHA-256 of method + path (no `.json`) + query + the unwrapped body, keys sorted. */
export function fingerprint(request: Request, body: unknown): string {
  const url = new URL(request.url);
  const path = url.pathname.replace(/\.json$/, "").replace(/\/+$/, "");
  const data = body && typeof body === "object" && !(body instanceof CsvBody) ? (body as Record<string, unknown>) : {};
  const { transactional, ...rest } = data;
  const unwrapped = transactional && typeof transactional === "object" && !Array.isArray(transactional) ? { ...rest, ...(transactional as object) } : data;
  return createHash("sha256").update(`${request.method}${path}${url.search.replace(/^\?/, "")}${canonical(unwrapped)}`).digest("hex");
}

const differentPayload = () => unprocessable("Idempotency-Key has already been used with a different request payload");

/**
 * The auth macro's `replay` hook: null for a first use (the key is then marked in flight for this
 * request), the stored response for a completed one.
 * @throws 422 malformed key or a different payload, 409 the same key still in flight.
 */
export function idempotencyReplay(deps: Deps) {
  const lookup = deps.db
    .select()
    .from(idempotency_keys)
    .where(and(eq(idempotency_keys.token_id, sql.placeholder("token")), eq(idempotency_keys.key, sql.placeholder("key"))))
    .prepare();
  /** slot → fingerprint of the keys whose first request is still running. */
  const inFlight = new Map<string, string>();
  return (request: Request, principal: Principal, body: unknown): Replay | null => {
    const header = request.headers.get("idempotency-key");
    if (header === null) return null;
    const key = header.trim();
    if (!KEY_SHAPE.test(key)) {
      throw unprocessable("Idempotency-Key must be 1 to 255 printable ASCII characters", { errors: { "Idempotency-Key": ["is invalid"] } });
    }
    const claim: IdempotencyClaim = { tokenId: principal.id, key, fingerprint: fingerprint(request, body) };
    const stored = lookup.get({ token: claim.tokenId, key });
    if (stored && stored.created_at > deps.clock.now() - IDEMPOTENCY_TTL_MS) {
      if (stored.fingerprint !== claim.fingerprint) throw differentPayload();
      return { status: stored.response_status, body: JSON.parse(stored.response_body), headers: { "idempotency-replayed": "true" } };
    }
    const running = inFlight.get(slot(claim));
    if (running !== undefined) {
      if (running !== claim.fingerprint) throw differentPayload();
      throw new AppError("conflict", "A request with this Idempotency-Key is still being processed");
    }
    inFlight.set(slot(claim), claim.fingerprint);
    claims.set(request, { claim, inFlight });
    return null;
  };
}

/** The claim the hook made for this request (null without an Idempotency-Key). */
export const idempotencyClaim = (request: Request): IdempotencyClaim | null => claims.get(request)?.claim ?? null;

/** Stores a 2xx result inside the transaction that commits the send (replaces an expired row). */
export function storeIdempotentResult(tx: Db, claim: IdempotencyClaim, status: number, body: unknown, now: number): void {
  tx.insert(idempotency_keys)
    .values({ token_id: claim.tokenId, key: claim.key, fingerprint: claim.fingerprint, response_status: status, response_body: JSON.stringify(body), created_at: now })
    .onConflictDoUpdate({
      target: [idempotency_keys.token_id, idempotency_keys.key],
      set: { fingerprint: claim.fingerprint, response_status: status, response_body: JSON.stringify(body), created_at: now },
    })
    .run();
}

/** Ends the in-flight state of the request's key (after the response, success or not). */
export function releaseIdempotency(request: Request): void {
  const held = claims.get(request);
  if (!held) return;
  claims.delete(request);
  const { claim, inFlight } = held;
  if (inFlight.get(slot(claim)) === claim.fingerprint) inFlight.delete(slot(claim));
}

/** Drops results older than 24 h; returns how many. */
export function pruneIdempotencyKeys(db: Db, now: number): number {
  return changes(db.delete(idempotency_keys).where(lt(idempotency_keys.created_at, now - IDEMPOTENCY_TTL_MS)).run());
}

export const idempotencyRetentionJob = (db: Db) => retentionJob("idempotency_keys.retention", (now) => pruneIdempotencyKeys(db, now));
