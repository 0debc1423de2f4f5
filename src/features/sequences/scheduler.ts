/**
 * The sequence scheduler job (docs/api-reference.md §6): each tick takes the due active enrollments
 * of active sequences (the `subscriber_sequences_due_idx` partial index per sequence, earliest first), up to
 * BATCH of them, and processes them in one transaction (actions.ts; batch.ts writes in bulk), then
 * wakes the delivery job and starts the `make_http_request` attempts the batch asked for. All state
 * is in the stored rows and due times, so a restart simply carries on; inactive sequences keep their
 * due rows waiting. One enrollment that throws is rolled back to its savepoint and set to `error`,
 * so it cannot hold up the others.
 */
import { eq } from "drizzle-orm";
import type { Db, RawStatement } from "@/db/client";
import { subscriber_sequences, type Enrollment } from "@/db/schema";
import type { Deps } from "@/deps";
import type { Job } from "@/jobs/runner";
import { addressPolicyOf, systemLookup, type Lookup } from "@/lib/ssrf";
import { moveOn, processDue, standing } from "./actions";
import { Batch, type PendingRequest } from "./batch";
import { afterAttempt, attemptRequest } from "./http-request";

/** Enrollments per transaction: a few tens of ms of write lock, so API writes never wait long. */
export const BATCH = 500;

/**
 * Due enrollments (?1 = now), at most ?2: the earliest due rows of each active sequence (a range of
 * the per-sequence due index each; CROSS JOIN keeps sequences the outer loop), then the earliest of
 * those — an inactive sequence's backlog is never read.
 */
export const DUE_SQL = `SELECT e.* FROM sequences s CROSS JOIN subscriber_sequences e ON e.id IN (
    SELECT id FROM subscriber_sequences WHERE sequence_id = s.id AND status = 'active' AND next_trigger_at IS NOT NULL AND next_trigger_at <= ?1
    ORDER BY next_trigger_at LIMIT ?2)
  WHERE s.active = 1
  ORDER BY e.next_trigger_at LIMIT ?2`;

export interface SchedulerOptions {
  /** DNS at the edge of `make_http_request` (tests pass a fake). */
  lookup?: Lookup;
}

export class SequenceScheduler implements Job {
  readonly name = "sequences.scheduler";
  readonly intervalMs = 1000;
  private readonly due: RawStatement;
  private readonly lookup: Lookup;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly deps: Deps,
    options: SchedulerOptions = {},
  ) {
    this.lookup = options.lookup ?? systemLookup;
    this.due = deps.database.raw.prepare(DUE_SQL);
  }

  tick(now: number): boolean {
    // A read first: an idle tick takes no write lock.
    if (this.due.get(now, 1) == null) return false;
    const batch = this.deps.db.transaction((tx) => {
      const batch = new Batch(this.deps, tx, now, this.due.all(now, BATCH) as Enrollment[]);
      for (const e of batch.enrollments) this.isolated(batch, tx, e, () => processDue(batch, e));
      batch.flush();
      return batch;
    });
    this.afterCommit(batch);
    // More due now: the rest of a backlog, steps past the per-tick bound, enrollments the batch made (moves, init_tag).
    return this.due.get(now, 1) != null;
  }

  /** Resolves once every `make_http_request` attempt started so far has been recorded (tests, stop). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  close(): Promise<void> {
    return this.settled();
  }

  /** Runs `fn` for `e` in a savepoint; a throw undoes its part of the batch and sets `e` to `error`. */
  private isolated(batch: Batch, tx: Db, e: Enrollment, fn: () => void): void {
    const mark = batch.mark(e);
    try {
      tx.transaction(() => fn());
    } catch (err) {
      batch.rollback(e, mark);
      const message = (err as Error).message;
      this.deps.log.error("sequence.step_failed", { enrollment_id: e.id, step_id: e.current_step_id, error: message, stack: (err as Error).stack });
      e.status = "error";
      e.next_trigger_at = null;
      e.error = message;
      const sequence = batch.sequence(e.sequence_id);
      const subscriber = batch.subscribers.get(e.subscriber_id);
      if (sequence && subscriber) batch.event("sequence.subscriber_error", { sequence, subscriber }, e, { error: message });
    }
  }

  private afterCommit(batch: Batch): void {
    if (batch.mail.length) this.deps.outbox.notify();
    for (const req of batch.requests) this.start(req);
  }

  private start(req: PendingRequest): void {
    const attempt = attemptRequest(req, addressPolicyOf(this.deps.config), this.lookup)
      .then((error) => this.record(req, error))
      .catch((err) => this.deps.log.error("sequence.request_record_failed", { enrollment_id: req.enrollmentId, error: (err as Error).message }))
      .finally(() => this.inFlight.delete(attempt));
    this.inFlight.add(attempt);
  }

  /** Records an attempt's answer, unless the enrollment has moved on since (removed, step deleted). */
  private record(req: PendingRequest, error: string | null): void {
    const now = this.deps.clock.now();
    if (error) this.deps.log.warn("sequence.request_failed", { enrollment_id: req.enrollmentId, step_id: req.step.id, attempt: req.attempt, error });
    const batch = this.deps.db.transaction((tx) => {
      const e = tx.select().from(subscriber_sequences).where(eq(subscriber_sequences.id, req.enrollmentId)).get();
      if (e?.status !== "active" || e.current_step_id !== req.step.id || e.request_attempts !== req.attempt) return null;
      const batch = new Batch(this.deps, tx, now, [e]);
      this.isolated(batch, tx, e, () => {
        const here = standing(batch, e);
        if (here && moveOn(batch, e, here, afterAttempt(req, error, now))) processDue(batch, e);
      });
      batch.flush();
      return batch;
    });
    if (batch) this.afterCommit(batch);
  }
}
