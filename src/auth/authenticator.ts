/**
 * Token authentication, transport-neutral (HTTP and SMTP AUTH both call it), in the check order of
 * docs/api-reference.md §2.1: format/checksum → hash lookup (incl. grace value) → expiry → failed-auth limiter →
 * IP allowlist. Then `charge()` applies the per-token buckets of §1.7.
 */
import type { Config } from "@/config";
import { AppError, forbidden, unauthorized } from "@/lib/errors";
import type { Clock } from "@/lib/time";
import { hashToken, hasTokenShape, hasValidChecksum } from "@/lib/tokens";
import type { AuthFailureReason, Metrics } from "@/metrics/metrics";
import type { AuthCache, CachedToken } from "./cache";
import { ipInCidrs } from "./ip";
import type { ClientInfo, Principal } from "./principal";
import { RateLimiter, type BucketState } from "./rate-limiter";
import type { UsageRecorder } from "./usage";

export type BucketName = "general" | "send";

/** Failed authentications allowed per IP per minute before 401s turn into 429s. */
const FAILED_AUTH_PER_MINUTE = 30;

export interface Charge {
  bucket: BucketName;
  state: BucketState;
}

/** Numeric bucket key of a token: no string building on the hot path. */
const bucketKey = (tokenId: number, bucket: BucketName) => tokenId * 2 + (bucket === "send" ? 1 : 0);

export class Authenticator {
  /** Per-token `general`/`send` buckets, and failed authentications per client IP. */
  private readonly limiter = new RateLimiter<number>();
  private readonly failures = new RateLimiter<string>();
  /** RateLimit-Policy per cached token (limits only change with the token, which replaces the object). */
  private policies = new WeakMap<CachedToken, string>();

  constructor(
    private readonly config: Readonly<Config>,
    private readonly clock: Clock,
    readonly cache: AuthCache,
    readonly usage: UsageRecorder,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Resolves a token value to a principal. `client` may be a plain IP (SMTP) or request metadata
   * whose IP is only resolved when a rule needs it.
   * @throws AppError 401 (missing/unknown/expired), 429 (too many failed attempts from `ip`), 403 (IP).
   */
  authenticate(value: string | null, client: ClientInfo | string): Principal {
    if (!value || !hasTokenShape(value)) {
      throw this.failed(typeof client === "string" ? client : client.ip, this.clock.now(), unauthorized(), value ? "malformed" : "missing");
    }
    // A cached value was checksummed when it was first seen; a miss is checksummed before the lookup.
    return this.authenticateHash(hashToken(value), client, () => hasValidChecksum(value));
  }

  /**
   * `authenticate` by the SHA-256 of a value: for sessions that outlive one request (SMTP), which
   * keep the hash of the value they authenticated with, never the value, and check it again per
   * message so a revoke, refresh, expiry or edit applies to the next one.
   */
  authenticateHash(hash: string, client: ClientInfo | string, mayQuery?: () => boolean): Principal {
    const from: ClientInfo = typeof client === "string" ? { ip: client, userAgent: null } : client;
    const now = this.clock.now();
    const match = this.cache.findByHash(hash, now, mayQuery);
    if (!match) throw this.failed(from.ip, now, unauthorized(), "invalid");
    const { token } = match;
    if (token.row.expires_at !== null && token.row.expires_at <= now) {
      throw this.failed(from.ip, now, unauthorized("API token has expired", "token_expired"), "expired");
    }
    if (token.allowedIps.length > 0 && !ipInCidrs(from.ip, token.allowedIps)) {
      this.metrics.authFailed("ip_not_allowed");
      throw forbidden(`Request IP ${from.ip} is not allowed for this token`);
    }
    this.usage.record(token.id, from, now);
    return {
      kind: "token",
      id: token.id,
      label: token.row.name,
      permissions: token.permissions,
      scope: token.row.scope,
      channelIds: token.channelIds,
      token,
      viaPreviousValue: match.viaPreviousValue,
      get ip() {
        return from.ip;
      },
      get userAgent() {
        return from.userAgent;
      },
    };
  }

  /** Counts a request about to get a 401 (by `reason`); past the per-IP limit it becomes a 429. */
  failed(ip: string, now: number, error: AppError, reason: AuthFailureReason): AppError {
    this.metrics.authFailed(reason);
    const state = this.failures.take(ip, FAILED_AUTH_PER_MINUTE, now);
    if (state.allowed) return error;
    this.metrics.rateLimited("failed_auth");
    return rateLimited(state);
  }

  /** Effective per-minute limit of a bucket for a token; 0 = unlimited. */
  effectiveLimit(token: CachedToken | null, bucket: BucketName): number {
    const instance = bucket === "general" ? this.config.rateLimitGeneral : this.config.rateLimitSend;
    const override = token ? (bucket === "general" ? token.row.rate_limit_general : token.row.rate_limit_send) : null;
    return override ?? instance;
  }

  /**
   * Takes `cost` tokens from the principal's bucket (all or nothing). Admins and unlimited buckets
   * are not charged (null).
   * @throws AppError 429 with Retry-After and the bucket headers.
   */
  charge(principal: Principal, bucket: BucketName, cost = 1): Charge | null {
    if (principal.kind !== "token") return null;
    const limit = this.effectiveLimit(principal.token, bucket);
    if (limit === 0) return null;
    const state = this.limiter.take(bucketKey(principal.id, bucket), limit, this.clock.now(), cost);
    const charge = { bucket, state };
    if (!state.allowed) {
      this.metrics.rateLimited(bucket);
      throw rateLimited(state, this.rateLimitHeaders(principal, charge) as Record<string, string>);
    }
    return charge;
  }

  /** Current state of a bucket without charging it (whoami's `rate_limits`). */
  peek(principal: Principal, bucket: BucketName): BucketState | null {
    const limit = this.effectiveLimit(principal.token, bucket);
    if (principal.kind !== "token" || limit === 0) return null;
    return this.limiter.peek(bucketKey(principal.id, bucket), limit, this.clock.now());
  }

  /** X-RateLimit-* and IETF RateLimit-Policy/RateLimit headers for the charged bucket, written into `into`. */
  rateLimitHeaders(principal: Principal, charge: Charge, into: Record<string, string | number> = {}): Record<string, string | number> {
    const { state, bucket } = charge;
    into["x-ratelimit-limit"] = String(state.limit);
    into["x-ratelimit-remaining"] = String(state.remaining);
    into["x-ratelimit-reset"] = String(state.reset);
    into["ratelimit-policy"] = this.policy(principal.token!);
    into.ratelimit = `"${bucket}";r=${state.remaining};t=${state.secondsToFull}`;
    return into;
  }

  private policy(token: CachedToken): string {
    let policy = this.policies.get(token);
    if (policy === undefined) {
      const parts: string[] = [];
      for (const b of ["general", "send"] as const) {
        const q = this.effectiveLimit(token, b);
        if (q > 0) parts.push(`"${b}";q=${q};w=60`);
      }
      this.policies.set(token, (policy = parts.join(", ")));
    }
    return policy;
  }

  /** Drops idle limiter state and flushes usage; called once per second by the server. */
  tick(): void {
    this.usage.flush();
    const now = this.clock.now();
    this.limiter.prune(now);
    this.failures.prune(now);
  }
}

function rateLimited(state: BucketState, headers: Record<string, string> = {}): AppError {
  return new AppError("rate_limited", "Rate limit exceeded. Please retry later.", {}, { ...headers, "retry-after": String(state.retryAfter) });
}
