/**
 * The delivery thread: a Bun Worker with its own SQLite connection that runs a MessageSender, so
 * rendering and nodemailer's per-message work (~0.5 ms) never take the API's thread (the machine has
 * 2 cores). The outbox's delivery job stays on the main thread and talks to it as to any Sender:
 * claimed messages go over, outcomes come back, and every outbox write stays on one connection.
 * With `jobs`, the thread also runs the webhook jobs (dispatch, attempts) whole, writes included, in
 * its own job runner, paced while the API thread is busy: their ticks are reported back for the main
 * thread's metrics.
 */
import type { Config } from "@/config";
import type { Message } from "@/db/schema";
import type { ApiLoad } from "@/jobs/api-load";
import type { JobObserver } from "@/jobs/runner";
import type { Logger } from "@/lib/log";
import type { Sender, SentResult } from "./sender";

export type ToThread =
  | { type: "start"; config: Readonly<Config>; capturePort: number | undefined; jobs: boolean; apiLoad: SharedArrayBuffer; timeoutMs: number }
  | { type: "deliver"; id: number; messages: readonly Message[]; now: number }
  | { type: "stop" };
export type FromThread =
  | { type: "ready" }
  | { type: "started" }
  | { type: "stopped" }
  | { type: "delivered"; id: number; results: SentResult[] }
  | { type: "log"; chunk: string }
  | { type: "registered"; job: string; intervalMs: number; now: number }
  | { type: "ticked"; job: string; seconds: number; ok: boolean; now: number }
  | { type: "failed"; id?: number; error: string };

/**
 * The thread's module: beside this file when run from source; in the compiled binary it is a second
 * entry point of `bun build --compile` (package.json), addressed from the bundle's root (src/).
 */
const THREAD_ENTRY = import.meta.url.includes("/$bunfs/") ? "/$bunfs/root/outbox/delivery-thread-entry.ts" : new URL("./delivery-thread-entry.ts", import.meta.url).href;

export interface DeliveryThreadOptions {
  capturePort: number | undefined;
  log: Logger;
  /** Also run the webhook jobs in the thread, paced by the API thread's load. */
  jobs: boolean;
  apiLoad: ApiLoad;
  /** Told about the thread's jobs (the metrics). */
  observer?: JobObserver;
  timeoutMs: number;
}

/** Starts the thread and resolves once its sender (and jobs) are ready. @throws when the thread cannot start. */
export async function startDeliveryThread(config: Readonly<Config>, { capturePort, log, jobs, apiLoad, observer, timeoutMs }: DeliveryThreadOptions): Promise<Sender> {
  const worker = new Worker(THREAD_ENTRY);
  const pending = new Map<number | string, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const wait = <T>(key: number | string) => new Promise<T>((resolve, reject) => pending.set(key, { resolve, reject }));
  const settle = (key: number | string, value: unknown, error?: string) => {
    const p = pending.get(key);
    pending.delete(key);
    if (error) p?.reject(new Error(`delivery thread: ${error}`));
    else p?.resolve(value);
  };
  worker.onmessage = (e: MessageEvent<FromThread>) => {
    const m = e.data;
    if (m.type === "log") log.forward(m.chunk);
    else if (m.type === "delivered") settle(m.id, m.results);
    else if (m.type === "ticked") observer?.ticked(m.job, m.seconds, m.ok, m.now);
    else if (m.type === "registered") observer?.registered(m.job, m.intervalMs, m.now);
    else if (m.type === "failed") settle(m.id ?? "started", null, m.error);
    else settle(m.type, null);
  };
  worker.onerror = (e: ErrorEvent) => {
    log.error("delivery.thread_error", { error: e.message });
    for (const key of [...pending.keys()]) settle(key, null, e.message);
  };
  const post = (m: ToThread) => worker.postMessage(m);
  // Messages posted before the thread's module has loaded are dropped: wait for it to say so.
  await wait("ready");
  const started = wait("started");
  post({ type: "start", config, capturePort, jobs, apiLoad: apiLoad.buffer, timeoutMs });
  await started;
  let nextId = 0;
  return {
    deliver(messages, now) {
      const id = ++nextId;
      const results = wait<SentResult[]>(id);
      post({ type: "deliver", id, messages, now });
      return results;
    },
    async close() {
      const stopped = wait("stopped");
      post({ type: "stop" });
      await Promise.race([stopped, Bun.sleep(timeoutMs)]);
      worker.terminate();
    },
  };
}
