/**
 * Set-up of the broadcast tests: a real server with a fake clock and hand-stepped jobs, subscribers
 * written over HTTP (bulk import), the broadcasts job and the delivery job stepped with tick(now).
 */
import { expect } from "bun:test";
import { startOutboxTest, type OutboxTest } from "../outbox/helpers";

export interface BroadcastTest extends OutboxTest {
  /** Imports subscribers `sub<i>@example.com` for i in [from, to). */
  subscribers(from: number, to: number, extra?: Record<string, unknown>): Promise<void>;
  create(body: Record<string, unknown>): Promise<any>;
  /** One tick of the broadcasts job (scheduler, fan-out, completion). */
  tickBroadcasts(): Promise<boolean>;
  /** Ticks fan-out and delivery until neither has work. */
  drain(): Promise<void>;
  get(id: number): Promise<any>;
}

export async function startBroadcastTest(): Promise<BroadcastTest> {
  const t = await startOutboxTest();
  const job = t.server.running.jobs.get("broadcasts")!;
  const b: BroadcastTest = Object.assign(t, {
    async subscribers(from: number, to: number, extra: Record<string, unknown> = {}) {
      for (let start = from; start < to; start += 5000) {
        const rows = Array.from({ length: Math.min(5000, to - start) }, (_, i) => ({ email: `sub${start + i}@example.com`, first_name: `S${start + i}`, ...extra }));
        const res = await t.server.request("POST", "/api/v1/subscribers/bulk", { body: { channel: "default", subscribers: rows } });
        expect(res.status).toBe(200);
      }
    },
    async create(body: Record<string, unknown>) {
      const res = await t.server.request("POST", "/api/v1/broadcasts", { body: { channel: "default", subject: "News for {{ first_name }}", body: "<p>Hello {{ first_name }}</p>", ...body } });
      expect(res.status).toBe(201);
      return res.body;
    },
    tickBroadcasts: async () => !!(await job.tick(t.clock.now())),
    async drain() {
      for (let i = 0; i < 10_000; i++) {
        const fanned = await b.tickBroadcasts();
        const delivered = await t.tick();
        if (!fanned && !delivered) {
          await b.tickBroadcasts();
          return;
        }
      }
    },
    async get(id: number) {
      return (await t.server.request("GET", `/api/v1/broadcasts/${id}`)).body;
    },
  });
  return b;
}
