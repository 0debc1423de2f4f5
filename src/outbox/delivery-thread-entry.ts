/**
 * Entry of the delivery thread (delivery-thread.ts): opens its own connection to the data dir's
 * database, runs a MessageSender for the batches the main thread's delivery job sends over, runs the
 * webhook jobs when asked to, and forwards its log lines and job ticks to the main thread (one
 * writer for stdout, one metrics registry).
 */
import { buildDeps, databasePath } from "@/boot";
import { openDb } from "@/db/client";
import { webhookJobs } from "@/features/webhooks/delivery";
import { ApiLoad, BACKGROUND_SHARE, Pacer, runAsBackgroundThread } from "@/jobs/api-load";
import { JobRunner, type JobObserver } from "@/jobs/runner";
import { createLogger } from "@/lib/log";
import { systemClock } from "@/lib/time";
import type { FromThread, ToThread } from "./delivery-thread";
import { MessageSender } from "./sender";

declare const self: Worker;
const send = (m: FromThread) => self.postMessage(m);

// Delivery and webhooks are background work: the API thread gets the CPU first on a busy machine.
// (When the API is idle the CPU is free and this thread runs at full speed.)
runAsBackgroundThread();

/** Bulk messages sent per 100 ms while the API is busy (50 a second). */
const BUSY_BULK_PER_WINDOW = 5;

let sender: MessageSender | null = null;
let jobs: JobRunner | null = null;
let stopTimeoutMs = 0;
let close = () => {};

self.onmessage = async (e: MessageEvent<ToThread>) => {
  const m = e.data;
  try {
    switch (m.type) {
      case "start": {
        const log = createLogger((chunk) => send({ type: "log", chunk }));
        const database = openDb(databasePath(m.config));
        const deps = buildDeps(m.config, database, log, systemClock);
        deps.capturePort = m.capturePort;
        // While the API is busy, bulk mail and the webhook jobs each keep to the share; bulk mail is
        // also capped per window (a message costs this thread, the main thread's claim and outcome
        // writes, and the receiving server: more than the share alone holds in).
        const load = new ApiLoad(m.apiLoad);
        sender = new MessageSender(deps, deps.transport, new Pacer(load, { share: BACKGROUND_SHARE, maxPerWindow: BUSY_BULK_PER_WINDOW }));
        if (m.jobs) {
          const observer: JobObserver = {
            registered: (job, intervalMs, now) => send({ type: "registered", job, intervalMs, now }),
            ticked: (job, seconds, ok, now) => send({ type: "ticked", job, seconds, ok, now }),
          };
          const runner = (jobs = new JobRunner(log, systemClock, observer));
          const pacer = new Pacer(load, { share: BACKGROUND_SHARE });
          for (const job of webhookJobs(deps, (name) => runner.wake(name), () => pacer.yield())) runner.add(job);
          runner.start();
        }
        // Half of the shutdown time for the jobs' ticks in flight, the rest for the sender.
        stopTimeoutMs = m.timeoutMs / 2;
        close = () => {
          log.flush();
          database.close();
        };
        send({ type: "started" });
        break;
      }
      case "deliver": {
        // Structured clone turned Buffers into plain Uint8Arrays.
        const messages = m.messages.map((msg) => (msg.raw_mime ? { ...msg, raw_mime: Buffer.from(msg.raw_mime) } : msg));
        send({ type: "delivered", id: m.id, results: await sender!.deliver(messages, m.now) });
        break;
      }
      case "stop":
        await jobs?.stop(stopTimeoutMs);
        await sender?.close();
        close();
        send({ type: "stopped" });
        break;
    }
  } catch (err) {
    send({ type: "failed", id: m.type === "deliver" ? m.id : undefined, error: (err as Error).message });
  }
};

send({ type: "ready" });
