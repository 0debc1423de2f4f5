/**
 * The inbound bounce listener in its own thread: a Bun Worker runs the SMTP sessions, parses and
 * classifies each message (inbound-thread-entry.ts) and, in production, records it on its own SQLite
 * connection, paced while the API thread is busy — a flood of DSNs then costs the API's thread
 * nothing (the machine has 2 cores). When tests step time with a fake clock (`recordOnMainThread`), each
 * classified message comes here to be recorded with this thread's deps and clock instead.
 */
import type { Config } from "@/config";
import { linkSecret } from "@/db/settings";
import type { Deps } from "@/deps";
import type { Classified } from "@/features/bounces/classify";
import { recordInbound, type InboundEnvelope, type InboundOutcome } from "@/features/bounces/inbound";
import type { ApiLoad } from "@/jobs/api-load";
import { StartupError } from "@/lib/errors";
import type { SmtpComponent } from "./start";

export type ToInbound =
  | { type: "start"; config: Readonly<Config>; secret: string; port: number; recordInThread: boolean; capturePort: number | undefined; apiLoad: SharedArrayBuffer }
  /** `capture`: also put the message into local capture, as a reply to that outbox message. */
  | { type: "recorded"; id: number; inboundId?: number; capture?: CaptureTarget; error?: string }
  | { type: "stop"; timeoutMs: number };
export type FromInbound =
  | { type: "ready" }
  | { type: "listening"; port: number }
  | { type: "failed"; error: string }
  | { type: "received"; id: number; envelope: InboundEnvelope; classified: Classified; size: number }
  | { type: "log"; chunk: string }
  | { type: "stopped" };

export interface CaptureTarget {
  port: number;
  messageId: number;
}

/** A stored reply to one of our messages goes on into local capture (when it runs), threaded under it. */
export const captureTarget = (outcome: InboundOutcome, capturePort: number | undefined): CaptureTarget | undefined =>
  outcome.result === "stored" && outcome.messageId !== null && capturePort !== undefined ? { port: capturePort, messageId: outcome.messageId } : undefined;

/** Beside this file from source; in the compiled binary an entry point of `bun build --compile` (package.json). */
const THREAD_ENTRY = import.meta.url.includes("/$bunfs/") ? "/$bunfs/root/smtp/inbound-thread-entry.ts" : new URL("./inbound-thread-entry.ts", import.meta.url).href;

export interface InboundThreadOptions {
  port: number;
  apiLoad: ApiLoad;
  /** Record on this thread, with `deps` and its clock (tests that step a fake clock). */
  recordOnMainThread: boolean;
}

/** Starts the thread and resolves once it listens on MAILROOM_INBOUND_HOST:`port` (0 = ephemeral). @throws StartupError */
export async function startInboundThread(deps: Deps, { port, apiLoad, recordOnMainThread }: InboundThreadOptions): Promise<SmtpComponent> {
  const worker = new Worker(THREAD_ENTRY);
  const post = (m: ToInbound) => worker.postMessage(m);
  const waiters = new Map<FromInbound["type"], (m: FromInbound) => void>();
  const next = <T extends FromInbound["type"]>(...types: T[]) =>
    new Promise<Extract<FromInbound, { type: T }>>((resolve) => types.forEach((t) => waiters.set(t, resolve as (m: FromInbound) => void)));
  worker.onmessage = (e: MessageEvent<FromInbound>) => {
    const m = e.data;
    if (m.type === "log") return deps.log.forward(m.chunk);
    if (m.type === "received") return void record(m);
    const waiter = waiters.get(m.type);
    waiters.delete(m.type);
    waiter?.(m);
  };
  worker.onerror = (e: ErrorEvent) => deps.log.error("inbound.thread_error", { error: e.message });
  const record = async (m: Extract<FromInbound, { type: "received" }>) => {
    try {
      const outcome = await recordInbound(deps, m.envelope, m.classified, m.size);
      post({ type: "recorded", id: m.id, inboundId: outcome.id, capture: captureTarget(outcome, deps.capturePort) });
    } catch (err) {
      // The thread answers 451: the sender retries later.
      deps.log.error("inbound.record_failed", { rcpt_to: m.envelope.rcptTo, error: (err as Error).message });
      post({ type: "recorded", id: m.id, error: (err as Error).message });
    }
  };
  // Messages posted before the thread's module has loaded are dropped: wait for it to say so.
  await next("ready");
  const started = next("listening", "failed");
  post({ type: "start", config: deps.config, secret: linkSecret(deps), port, recordInThread: !recordOnMainThread, capturePort: deps.capturePort, apiLoad: apiLoad.buffer });
  const answer = await started;
  if (answer.type === "failed") {
    worker.terminate();
    throw new StartupError(`inbound port ${port} on ${deps.config.inboundHost} is not available: ${answer.error}`);
  }
  deps.log.info("inbound.listening", { host: deps.config.inboundHost, port: answer.port });
  return {
    name: "inbound",
    port: answer.port,
    async stop() {
      const stopped = next("stopped");
      post({ type: "stop", timeoutMs: deps.config.shutdownTimeoutMs });
      await Promise.race([stopped, Bun.sleep(deps.config.shutdownTimeoutMs + 1000)]);
      worker.terminate();
    },
  };
}
