/**
 * In-process token buckets (docs/api-reference.md §1.7): capacity = limit per window (a minute unless given),
 * continuous refill.
 * JavaScript runs one request at a time, so take() is atomic: N concurrent requests against a
 * bucket holding C tokens → exactly min(N, C) succeed.
 */

export interface BucketState {
  allowed: boolean;
  limit: number;
  /** Whole tokens left. */
  remaining: number;
  /** Unix seconds (rounded up) when the bucket is full again. */
  reset: number;
  /** Seconds until full (for the IETF `RateLimit` header). */
  secondsToFull: number;
  /** Seconds until one token is available (for `Retry-After`), ≥ 1 when refused. */
  retryAfter: number;
}

class Bucket {
  tokens: number;
  updatedAt: number;
  constructor(public capacity: number, now: number, private readonly windowMs: number) {
    this.tokens = capacity;
    this.updatedAt = now;
  }

  refill(now: number, capacity: number): void {
    if (capacity !== this.capacity) {
      this.capacity = capacity;
      this.tokens = Math.min(this.tokens, capacity);
    }
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.capacity) / this.windowMs);
      this.updatedAt = now;
    }
  }

  state(now: number, allowed: boolean): BucketState {
    const perMs = this.capacity / this.windowMs;
    const msToFull = (this.capacity - this.tokens) / perMs;
    return {
      allowed,
      limit: this.capacity,
      remaining: Math.floor(this.tokens),
      reset: Math.ceil((now + msToFull) / 1000),
      secondsToFull: Math.ceil(msToFull / 1000),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((1 - this.tokens) / perMs / 1000)),
    };
  }
}

export class RateLimiter<K extends string | number = string> {
  private buckets = new Map<K, Bucket>();
  private prunedAt = -Infinity;

  constructor(private readonly windowMs = 60_000) {}

  /** Takes `cost` tokens from bucket `key` if all are available (all-or-nothing). */
  take(key: K, capacity: number, now: number, cost = 1): BucketState {
    const bucket = this.bucket(key, capacity, now);
    const allowed = bucket.tokens >= cost;
    if (allowed) bucket.tokens -= cost;
    return bucket.state(now, allowed);
  }

  /** The bucket's state without charging it. */
  peek(key: K, capacity: number, now: number): BucketState {
    return this.bucket(key, capacity, now).state(now, true);
  }

  /** Would `take(key, …, cost)` succeed? Charges nothing; `retryAfter` is set when it would not. */
  check(key: K, capacity: number, now: number, cost = 1): BucketState {
    const bucket = this.bucket(key, capacity, now);
    return bucket.state(now, bucket.tokens >= cost);
  }

  private bucket(key: K, capacity: number, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new Bucket(capacity, now, this.windowMs)));
    else bucket.refill(now, capacity);
    return bucket;
  }

  /**
   * Prunes at most once per window: call it on each request of a limiter keyed by clients that keep
   * changing (per-IP limits of public pages), so addresses never seen again cannot grow it forever.
   */
  pruneEvery(now: number): void {
    if (now - this.prunedAt < this.windowMs && now >= this.prunedAt) return;
    this.prunedAt = now;
    this.prune(now);
  }

  /** Buckets held (memory in use). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled completely (they equal a fresh bucket); bounds memory. */
  prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      bucket.refill(now, bucket.capacity);
      if (bucket.tokens >= bucket.capacity) this.buckets.delete(key);
    }
  }
}
