/**
 * One batch of the sequence scheduler (docs/api-reference.md §6), inside one transaction: what it
 * reads once (the sequences, step trees and subscribers of the claimed enrollments), what the steps
 * produce (outbox rows, `sequence.*` events, HTTP requests to start after the commit, quota units)
 * and, at the end, every write in bulk: one enqueue-many, one quota charge per channel, one prepared
 * UPDATE per enrollment, one events insert.
 */
import { eq, inArray } from "drizzle-orm";
import type { Database, Db } from "@/db/client";
import { sequence_steps, sequences, subscribers, type Channel, type Enrollment, type Sequence, type SequenceStep, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { chargeQuota, peekQuota } from "@/features/channels/quota";
import type { SequenceEventType } from "@/features/events/catalogue";
import { appendEvents, type NewEvent } from "@/features/events/service";
import { enrollmentEvent } from "./enrollment";

/** A `make_http_request` attempt to run once the batch has committed. */
export interface PendingRequest {
  enrollmentId: number;
  /** 1-based; the enrollment's `request_attempts` when it was started. */
  attempt: number;
  step: SequenceStep;
  subscriber: Subscriber;
  channel: Channel;
}

/** Where a processed enrollment stands: all it needs to run its step. */
export interface Here {
  sequence: Sequence;
  subscriber: Subscriber;
  step: SequenceStep;
  channel: Channel;
}

function prepare(database: Database) {
  const raw = database.raw;
  return {
    save: raw.prepare(
      `UPDATE subscriber_sequences SET status = ?2, current_step_id = ?3, next_trigger_at = ?4, last_message_id = ?5,
         request_attempts = ?6, error = ?7, completed_at = ?8, updated_at = ?9 WHERE id = ?1`,
    ),
    drop: raw.prepare("DELETE FROM subscriber_sequences WHERE id = ?1"),
    status: raw.prepare("SELECT status FROM subscriber_sequences WHERE id = ?1"),
  };
}
const statements = new WeakMap<Database, ReturnType<typeof prepare>>();

type OutboxInput = Parameters<Deps["outbox"]["enqueue"]>[0][number];

const childKey = (parentId: number, branch: string | null) => `${parentId}:${branch ?? ""}`;

export class Batch {
  readonly subscribers = new Map<number, Subscriber>();
  readonly mail: { enrollment: Enrollment; row: OutboxInput }[] = [];
  readonly events: NewEvent[] = [];
  readonly requests: PendingRequest[] = [];
  private readonly sequences = new Map<number, Sequence | null>();
  private readonly steps = new Map<number, SequenceStep>();
  private readonly children = new Map<string, SequenceStep>();
  /** Per channel: units this batch may still use (null = no cap) and units taken. */
  private readonly quota = new Map<number, { room: number | null; taken: number }>();
  private readonly dropped = new Set<number>();

  constructor(
    readonly deps: Deps,
    readonly tx: Db,
    readonly now: number,
    readonly enrollments: readonly Enrollment[],
  ) {
    const subscriberIds = [...new Set(enrollments.map((e) => e.subscriber_id))];
    const sequenceIds = [...new Set(enrollments.map((e) => e.sequence_id))];
    for (const s of subscriberIds.length ? tx.select().from(subscribers).where(inArray(subscribers.id, subscriberIds)).all() : []) this.subscribers.set(s.id, s);
    for (const s of sequenceIds.length ? tx.select().from(sequences).where(inArray(sequences.id, sequenceIds)).all() : []) this.sequences.set(s.id, s);
    for (const step of sequenceIds.length ? tx.select().from(sequence_steps).where(inArray(sequence_steps.sequence_id, sequenceIds)).all() : []) {
      this.steps.set(step.id, step);
      if (step.parent_id !== null) this.children.set(childKey(step.parent_id, step.branch), step);
    }
  }

  /** A sequence (claimed ones are preloaded; a `move_to_sequence` target is read on demand). */
  sequence(id: number): Sequence | null {
    if (!this.sequences.has(id)) this.sequences.set(id, this.tx.select().from(sequences).where(eq(sequences.id, id)).get() ?? null);
    return this.sequences.get(id)!;
  }

  step(id: number | null): SequenceStep | undefined {
    return id === null ? undefined : this.steps.get(id);
  }

  /** The step under `step` (on `branch` below a condition), if any. */
  child(step: SequenceStep, branch: "yes" | "no" | null): SequenceStep | undefined {
    return this.children.get(childKey(step.id, step.action === "condition" ? branch : null));
  }

  channel(id: number): Channel | undefined {
    return this.deps.auth.cache.channelById(id);
  }

  /** Takes one unit of the channel's monthly quota (§1.8) for this batch; false when it is used up. */
  takeQuota(channel: Channel): boolean {
    let q = this.quota.get(channel.id);
    if (!q) this.quota.set(channel.id, (q = { room: peekQuota(this.tx, channel, this.now).remaining, taken: 0 }));
    if (q.room !== null && q.taken >= q.room) return false;
    q.taken++;
    return true;
  }

  /**
   * The `sequence.*` event of `e` as it stands now, written with the batch's events; `atOnce`: written
   * now, so it comes before what the step writes next (a move's subscriber_added in the target).
   */
  event<T extends SequenceEventType>(type: T, here: Pick<Here, "sequence" | "subscriber">, e: Enrollment, extra: Parameters<typeof enrollmentEvent<T>>[5], atOnce = false): void {
    const slug = this.deps.auth.cache.slugOf(here.sequence.channel_id) ?? "";
    const event = enrollmentEvent(type, slug, here.sequence, here.subscriber, e, extra);
    if (atOnce) appendEvents(this.tx, this.deps.clock, [event]);
    else this.events.push(event);
  }

  /** Re-reads the status of the batch's enrollments of a subscriber (a change of the subscriber paused them through the hooks). */
  resync(subscriberId: number): void {
    for (const e of this.enrollments) {
      if (e.subscriber_id !== subscriberId) continue;
      const row = this.statements().status.get(e.id) as Pick<Enrollment, "status"> | null | undefined;
      if (row) e.status = row.status;
    }
  }

  /** Deletes the enrollment at flush (its subscriber is gone). */
  drop(e: Enrollment): void {
    this.dropped.add(e.id);
  }

  /** What processing one enrollment may change in memory, to undo it when its savepoint rolls back. */
  mark(e: Enrollment) {
    return {
      enrollment: { ...e },
      subscriber: this.subscribers.get(e.subscriber_id),
      lengths: [this.mail.length, this.events.length, this.requests.length] as const,
      quota: new Map([...this.quota].map(([id, q]) => [id, { ...q }])),
    };
  }

  rollback(e: Enrollment, mark: ReturnType<Batch["mark"]>): void {
    Object.assign(e, mark.enrollment);
    if (mark.subscriber) this.subscribers.set(e.subscriber_id, mark.subscriber);
    this.mail.length = mark.lengths[0];
    this.events.length = mark.lengths[1];
    this.requests.length = mark.lengths[2];
    this.quota.clear();
    for (const [id, q] of mark.quota) this.quota.set(id, q);
    this.dropped.delete(e.id);
  }

  private statements() {
    let q = statements.get(this.deps.database);
    if (!q) statements.set(this.deps.database, (q = prepare(this.deps.database)));
    return q;
  }

  /** Writes everything the batch produced (in its transaction). */
  flush(): void {
    const { deps, tx, now } = this;
    const stored = this.mail.length ? deps.outbox.enqueue(this.mail.map((m) => m.row), now) : [];
    stored.forEach((m, i) => (this.mail[i]!.enrollment.last_message_id = m.id));
    for (const [channelId, q] of this.quota) {
      const channel = this.channel(channelId);
      if (channel && q.taken > 0) chargeQuota(tx, channel, q.taken, now);
    }
    const q = this.statements();
    for (const e of this.enrollments) {
      if (this.dropped.has(e.id)) q.drop.run(e.id);
      else q.save.run(e.id, e.status, e.current_step_id, e.next_trigger_at, e.last_message_id, e.request_attempts, e.error, e.completed_at, now);
    }
    appendEvents(tx, deps.clock, this.events);
  }
}
