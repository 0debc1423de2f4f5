/**
 * Shared set-up for the sequence scheduler tests: a real server (jobs stepped by hand, fake clock)
 * whose default channel delivers into a real SMTP sink, sequences and steps built through the §6
 * API, and one call that runs the scheduler and the delivery job until nothing more is due now.
 */
import { expect } from "bun:test";
import type { SequenceScheduler } from "@/features/sequences/scheduler";
import { startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { TestServerOptions } from "../harness";

export interface SchedulerTest extends OutboxTest {
  readonly scheduler: SequenceScheduler;
  /** POST /sequences (active unless said otherwise) on the default channel. */
  sequence(fields?: Record<string, unknown>): Promise<any>;
  /** POST /sequences/:id/steps; expects 201. */
  addStep(sequenceId: number, fields: Record<string, unknown>): Promise<any>;
  /** POST /sequences/:id/add_subscriber; expects 201. */
  enroll(sequenceId: number, email: string, fields?: Record<string, unknown>): Promise<any>;
  /** Scheduler ticks (HTTP attempts awaited) and delivery ticks at the clock's now, until neither has more. */
  run(): Promise<void>;
  enrollment(sequenceId: number, email: string): any;
  /** `sequence.*` event types of a subscriber, in order. */
  sequenceEvents(email: string): string[];
}

export async function startSchedulerTest(options: TestServerOptions = {}): Promise<SchedulerTest> {
  const t = await startOutboxTest(options);
  const api = t.server.request.bind(t.server);
  const scheduler = t.server.running.jobs.get("sequences.scheduler") as SequenceScheduler;
  return Object.assign(t, {
    scheduler,
    async sequence(fields: Record<string, unknown> = {}) {
      const res = await api("POST", "/api/v1/sequences", { body: { channel: "default", label: "Onboarding", active: true, ...fields } });
      expect(res.status).toBe(201);
      return res.body;
    },
    async addStep(sequenceId: number, fields: Record<string, unknown>) {
      const res = await api("POST", `/api/v1/sequences/${sequenceId}/steps`, { body: fields });
      expect(res.status).toBe(201);
      return res.body;
    },
    async enroll(sequenceId: number, email: string, fields: Record<string, unknown> = {}) {
      const res = await api("POST", `/api/v1/sequences/${sequenceId}/add_subscriber`, { body: { email, ...fields } });
      expect(res.status).toBe(201);
      return res.body;
    },
    async run() {
      for (let round = 0; round < 100; round++) {
        let more = await scheduler.tick(t.clock.now());
        await scheduler.settled();
        more = (await t.tick()) || more;
        if (!more) return;
      }
      throw new Error("scheduler and delivery still busy after 100 rounds");
    },
    enrollment: (sequenceId: number, email: string) =>
      t.server.sql(
        "SELECT e.* FROM subscriber_sequences e JOIN subscribers s ON s.id = e.subscriber_id WHERE e.sequence_id = ? AND s.email = ? ORDER BY e.id DESC LIMIT 1",
        sequenceId,
        email,
      )[0],
    sequenceEvents: (email: string) =>
      t.server.sql("SELECT type FROM events WHERE type LIKE 'sequence.%' AND json_extract(data, '$.subscriber.email') = ? ORDER BY id", email).map((e) => e.type),
  });
}
