/**
 * Shared set-up for the outbox tests: a real server whose delivery job is stepped by hand with a
 * fake clock, real smtp-server sinks, email servers and transactionals created over HTTP, and bulk
 * backlogs written straight through the outbox (the way broadcast fan-out will).
 */
import { afterEach, beforeEach, expect } from "bun:test";
import type { Message } from "@/db/schema";
import type { OutboxInput } from "@/outbox/outbox";
import { fakeClock, startTestServer, type TestServer, type TestServerOptions } from "../harness";
import { startSmtpSink, type SinkOptions, type SmtpSink } from "../smtp-sink";

export interface OutboxTest {
  server: TestServer;
  clock: ReturnType<typeof fakeClock>;
  sink(options?: SinkOptions): Promise<SmtpSink>;
  /** Creates an email server pointing at a sink (plain SMTP) on `channel` (default: "default"). */
  addServer(port: number, fields?: Record<string, unknown>, channel?: string): Promise<any>;
  /** POST /api/v1/transactionals with the default token; expects 201. */
  send(body?: Record<string, unknown>): Promise<any>;
  row(id: number): Message;
  /** Event types recorded for a transactional, in order. */
  eventTypes(id: number): string[];
  /** One tick of the delivery job at the fake clock's now. */
  tick(): Promise<boolean>;
  /** Queues `count` broadcast rows on a channel in one transaction; returns their ids. */
  enqueueBulk(channelId: number, count: number): number[];
  stop(): Promise<void>;
}

export async function startOutboxTest(options: TestServerOptions = {}): Promise<OutboxTest> {
  const clock = fakeClock();
  // Step the job by hand: no background loop racing the assertions.
  const server = await startTestServer({ clock, startJobs: false, ...options });
  const sinks: SmtpSink[] = [];
  const t: OutboxTest = {
    server,
    clock,
    async sink(o = {}) {
      const s = await startSmtpSink(o);
      sinks.push(s);
      return s;
    },
    async addServer(port, fields = {}, channel = "default") {
      const res = await server.request("POST", "/api/v1/email_servers", {
        body: { channel, email_server: { label: `sink ${port}`, smtp_address: "127.0.0.1", smtp_port: port, smtp_enable_starttls_auto: false, ...fields } },
      });
      expect(res.status).toBe(201);
      return res.body;
    },
    async send(body = {}) {
      const res = await server.request("POST", "/api/v1/transactionals", {
        token: server.defaultToken,
        body: { to: "ada@example.com", subject: "Receipt", body: "<p>Thanks</p>", ...body },
      });
      expect(res.status).toBe(201);
      return res.body;
    },
    row: (id) => server.sql("SELECT * FROM messages WHERE id = ?", id)[0],
    eventTypes: (id) => server.sql("SELECT type FROM events WHERE transactional_id = ? ORDER BY id", id).map((e) => e.type),
    tick: () => server.running.delivery!.tick(clock.now()),
    enqueueBulk(channelId, count) {
      const rows = Array.from({ length: count }, (_, i): OutboxInput => ({
        channel_id: channelId,
        kind: "broadcast",
        source: "broadcast",
        status: "queued",
        recipient_email: `reader${i}@example.com`,
        subject: "News",
        body: "<p>News</p>",
      }));
      const now = clock.now();
      return server.deps.db.transaction(() => server.deps.outbox.enqueue(rows, now)).map((m) => m.id);
    },
    async stop() {
      // The runner was never started, so it will not close the job: close it here (pools, unwritten outcomes).
      await server.running.delivery!.close();
      await server.stop();
      for (const s of sinks.splice(0)) await s.stop();
    },
  };
  return t;
}

/** The id of the default channel. */
export const defaultChannelId = (t: OutboxTest): number => t.server.sql("SELECT id FROM channels WHERE slug = 'default'")[0].id;

/** Around each test: a fresh server from `start` whose default channel delivers to a real sink (`use` receives both). */
export function eachWithSink<T extends OutboxTest>(start: () => Promise<T>, use: (t: T, sink: SmtpSink) => void): void {
  let current: T;
  beforeEach(async () => {
    current = await start();
    const sink = await current.sink();
    await current.addServer(sink.port);
    use(current, sink);
  });
  afterEach(() => current.stop());
}
