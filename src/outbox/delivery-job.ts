/**
 * The delivery job: claims due outbox rows (priority lane first), has a Sender render, route and send
 * them (sender.ts — in this thread, or in the delivery thread), and records the batch's outcomes in
 * one transaction (outcomes.ts; a few per transaction when the API has become busy meanwhile).
 * Several ticks run at once (`concurrency`) so connections never idle while a batch is recorded.
 * All of delivery's writes happen here, on the main connection.
 *
 * Faults: outcomes that cannot be written (disk full, read-only) are kept in memory and written
 * again on the next tick, and nothing new is claimed meanwhile — the next hop already has those
 * messages, so they must not be sent again. A crash loses nothing: unrecorded rows keep their lease,
 * which start-up releases, so at most the claimed batches are sent twice.
 */
import type { Message } from "@/db/schema";
import type { Deps } from "@/deps";
import type { Job } from "@/jobs/runner";
import { recordOutcomes, type Settled } from "./outcomes";
import { MessageSender, type Sender } from "./sender";
import type { Transport } from "./transport";

const MINUTE = 60_000;

export interface DeliveryJobOptions {
  /** Defaults to a MessageSender in this thread over `transport`. */
  sender?: Sender;
  /** For the default sender; defaults to deps.transport. */
  transport?: Transport;
  /** Messages claimed per tick. */
  batchSize?: number;
  /** Ticks in flight at once (the runner starts this many loops). */
  concurrency?: number;
  leaseMs?: number;
  /** The API thread is busy now (jobs/api-load.ts): bulk mail is claimed BUSY_BULK_BATCH at a time. */
  apiBusy?: () => boolean;
}

/**
 * Bulk messages per claim while the API is busy. The sender then paces them anyway, and a batch's
 * outcomes are written in one transaction on this thread: 50 of them held the API's thread ~5 ms.
 */
const BUSY_BULK_BATCH = 5;

export class DeliveryJob implements Job {
  readonly name = "delivery";
  readonly intervalMs = 1000;
  readonly concurrency: number;
  readonly sender: Sender;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly apiBusy: () => boolean;
  /** Outcomes whose write failed: written first on the next tick. */
  private unrecorded: Settled[] = [];

  constructor(
    private readonly deps: Deps,
    options: DeliveryJobOptions = {},
  ) {
    this.sender = options.sender ?? new MessageSender(deps, options.transport);
    this.batchSize = options.batchSize ?? 50;
    this.concurrency = options.concurrency ?? 3;
    this.leaseMs = options.leaseMs ?? 5 * MINUTE;
    this.apiBusy = options.apiBusy ?? (() => false);
  }

  /** Releases leases left by a process that stopped mid-send (call once, before the first tick). */
  releaseLeases(): void {
    const released = this.deps.outbox.releaseLeases();
    if (released) this.deps.log.info("delivery.leases_released", { count: released });
  }

  /**
   * Claims up to one batch of due messages, sends them concurrently and records the outcomes.
   * Returns true when the claim hit a limit (the priority batch, or a channel's bulk slice), so more
   * may be due now.
   */
  async tick(now: number): Promise<boolean> {
    if (this.unrecorded.length) {
      const pending = this.unrecorded;
      this.unrecorded = [];
      this.write(pending);
    }
    const bulkLimit = this.apiBusy() ? Math.min(BUSY_BULK_BATCH, this.batchSize) : this.batchSize;
    const rows = this.deps.outbox.claim(now, now + this.leaseMs, this.batchSize, bulkLimit);
    if (rows.length === 0) return false;
    const results = await this.sender.deliver(rows, now);
    await this.record(results.map((r, i) => ({ message: rows[i]!, outcome: r.outcome, subject: r.subject })));
    return this.claimedAll(rows, bulkLimit);
  }

  /**
   * Records a batch in one transaction; when the API has become busy meanwhile (a batch claimed at
   * full speed, then paced), BUSY_BULK_BATCH outcomes per transaction with the API's requests let in
   * between: 50 at once held its thread ~5 ms.
   */
  private async record(batch: Settled[]): Promise<void> {
    if (batch.length <= BUSY_BULK_BATCH || !this.apiBusy()) return this.write(batch);
    for (let start = 0; start < batch.length; start += BUSY_BULK_BATCH) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      try {
        this.write(batch.slice(start, start + BUSY_BULK_BATCH));
      } catch (err) {
        this.unrecorded.push(...batch.slice(start + BUSY_BULK_BATCH));
        throw err;
      }
    }
  }

  /** Did the claim stop at a limit? The bulk lane splits its limit evenly between the channels it took from. */
  private claimedAll(rows: readonly Message[], bulkLimit: number): boolean {
    const perLane = new Map<string, number>();
    for (const m of rows) {
      const key = m.lane === "priority" ? "priority" : `bulk:${m.channel_id}`;
      perLane.set(key, (perLane.get(key) ?? 0) + 1);
    }
    const bulkChannels = perLane.size - (perLane.has("priority") ? 1 : 0);
    const slice = bulkChannels ? Math.ceil(bulkLimit / bulkChannels) : Infinity;
    return [...perLane].some(([key, n]) => n >= (key === "priority" ? this.batchSize : slice));
  }

  async close(): Promise<void> {
    if (this.unrecorded.length) {
      try {
        recordOutcomes(this.deps, this.unrecorded);
      } catch (err) {
        this.deps.log.error("delivery.outcomes_lost", { count: this.unrecorded.length, error: (err as Error).message });
      }
    }
    await this.sender.close();
  }

  /** Records a batch; when the database refuses, keeps it (and the leases) for the next tick and rethrows. */
  private write(batch: Settled[]): void {
    try {
      recordOutcomes(this.deps, batch);
    } catch (err) {
      this.unrecorded.push(...batch);
      this.deps.log.error("delivery.record_failed", { count: this.unrecorded.length, code: (err as { code?: string }).code, error: (err as Error).message });
      throw err;
    }
  }
}
