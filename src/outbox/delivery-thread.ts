/**
 * Runs the delivery job in a Bun Worker thread with its own SQLite connection, so rendering and
 * nodemailer's per-message work (~0.5 ms) never take the API's thread (the machine has 2 cores).
 * The main thread only posts wake-ups, coalesced to one per turn of the event loop.
 */
import type { Config } from "@/config";
import type { Logger } from "@/lib/log";

export type ToThread =
  | { type: "start"; config: Readonly<Config>; capturePort: number | undefined }
  | { type: "wake" }
  | { type: "stop"; timeoutMs: number };
export type FromThread = { type: "ready" } | { type: "started" } | { type: "stopped" } | { type: "log"; chunk: string } | { type: "failed"; error: string };

/**
 * The thread's module: beside this file when run from source; in the compiled binary it is a second
 * entry point of `bun build --compile` (package.json), addressed from the bundle's root (src/).
 */
const THREAD_ENTRY = import.meta.url.includes("/$bunfs/") ? "/$bunfs/root/outbox/delivery-thread-entry.ts" : new URL("./delivery-thread-entry.ts", import.meta.url).href;

export interface DeliveryThread {
  wake(): void;
  stop(): Promise<void>;
}

/** Starts the thread and resolves once its job runs. @throws when the thread cannot start. */
export async function startDeliveryThread(config: Readonly<Config>, capturePort: number | undefined, log: Logger): Promise<DeliveryThread> {
  const worker = new Worker(THREAD_ENTRY);
  // Registered before anything can arrive.
  const replies = new Map<string, () => void>();
  let failure: ((err: Error) => void) | null = null;
  worker.onmessage = (e: MessageEvent<FromThread>) => {
    const m = e.data;
    if (m.type === "log") log.forward(m.chunk);
    else if (m.type === "failed") failure?.(new Error(m.error));
    else replies.get(m.type)?.();
  };
  worker.onerror = (e: ErrorEvent) => {
    log.error("delivery.thread_error", { error: e.message });
    failure?.(new Error(`delivery thread: ${e.message}`));
  };
  const reply = (type: FromThread["type"]) => new Promise<void>((resolve, reject) => {
    replies.set(type, resolve);
    failure = reject;
  });
  const post = (m: ToThread) => worker.postMessage(m);
  // Messages posted before the thread's module has loaded are dropped: wait for it to say so.
  await reply("ready");
  const started = reply("started");
  post({ type: "start", config, capturePort });
  await started;
  let wakePending = false;
  return {
    wake() {
      if (wakePending) return;
      wakePending = true;
      queueMicrotask(() => {
        wakePending = false;
        post({ type: "wake" });
      });
    },
    async stop() {
      const stopped = reply("stopped");
      post({ type: "stop", timeoutMs: config.shutdownTimeoutMs });
      await Promise.race([stopped, Bun.sleep(config.shutdownTimeoutMs + 1000)]);
      worker.terminate();
    },
  };
}
