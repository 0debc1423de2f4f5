/**
 * Token usage stats (last_used_at, last_used_ip, request_count) without a write per request:
 * requests are counted in memory and flushed at most once per second per token, in one
 * transaction, and on shutdown (docs/api-reference.md §2.1: reads may lag ≤ 2 s).
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { access_tokens } from "@/db/schema";

interface Pending {
  at: number;
  ip: string;
  count: number;
}

export class UsageRecorder {
  private pending = new Map<number, Pending>();
  private readonly update;

  constructor(private readonly db: Db) {
    this.update = db
      .update(access_tokens)
      .set({
        last_used_at: sql.placeholder("at") as never,
        last_used_ip: sql.placeholder("ip") as never,
        request_count: sql`${access_tokens.request_count} + ${sql.placeholder("count")}`,
      })
      .where(eq(access_tokens.id, sql.placeholder("id")))
      .prepare();
  }

  /**
   * Counts one request. The client IP is read once per token per flush window (resolving it costs
   * µs), so `last_used_ip` is the address of the first request of the last window.
   */
  record(tokenId: number, client: { readonly ip: string }, at: number): void {
    const p = this.pending.get(tokenId);
    if (p) {
      p.at = at;
      p.count++;
    } else this.pending.set(tokenId, { at, ip: client.ip, count: 1 });
  }

  /** Writes everything pending in one transaction. Returns the number of tokens written. */
  flush(): number {
    if (this.pending.size === 0) return 0;
    const batch = this.pending;
    this.pending = new Map();
    this.db.transaction(() => {
      for (const [id, p] of batch) this.update.run({ id, at: p.at, ip: p.ip, count: p.count });
    });
    return batch.size;
  }

  /** Pending (not yet flushed) usage of one token, so reads can merge it. */
  pendingFor(tokenId: number): Readonly<Pending> | undefined {
    return this.pending.get(tokenId);
  }
}
