/**
 * The inbound bounce listener in its own thread: a Bun Worker runs the SMTP sessions and parses and
 * classifies each message (inbound-thread-entry.ts), so a flood of DSNs never takes the API's thread
 * (the machine has 2 cores). Only the short database write runs here — every write stays on one
 * connection, shared with concurrent writes through group commit — and its answer goes back.
 */
import type { Config } from "@/config";
import { linkSecret } from "@/db/settings";
import type { Deps } from "@/deps";
import type { Classified } from "@/features/bounces/classify";
import { recordInbound, type InboundEnvelope } from "@/features/bounces/inbound";
import { StartupError } from "@/lib/errors";
import type { SmtpComponent } from "./start";

export type ToInbound =
  | { type: "start"; config: Readonly<Config>; secret: string; port: number }
  /** `capture`: also put the message into local capture, as a reply to that outbox message. */
  | { type: "recorded"; id: number; inboundId?: number; capture?: { port: number; messageId: number }; error?: string }
  | { type: "stop"; timeoutMs: number };
export type FromInbound =
  | { type: "ready" }
  | { type: "listening"; port: number }
  | { type: "failed"; error: string }
  | { type: "received"; id: number; envelope: InboundEnvelope; classified: Classified; size: number }
  | { type: "log"; chunk: string }
  | { type: "stopped" };

/** Beside this file from source; in the compiled binary an entry point of `bun build --compile` (package.json). */
const THREAD_ENTRY = import.meta.url.includes("/$bunfs/") ? "/$bunfs/root/smtp/inbound-thread-entry.ts" : new URL("./inbound-thread-entry.ts", import.meta.url).href;

/** Starts the thread and resolves once it listens on MAILROOM_INBOUND_HOST:`port` (0 = ephemeral). @throws StartupError */
export async function startInboundThread(deps: Deps, port: number): Promise<SmtpComponent> {
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
      const port = deps.capturePort;
      const capture = outcome.result === "stored" && outcome.messageId !== null && port !== undefined ? { port, messageId: outcome.messageId } : undefined;
      post({ type: "recorded", id: m.id, inboundId: outcome.id, capture });
    } catch (err) {
      // The thread answers 451: the sender retries later.
      deps.log.error("inbound.record_failed", { rcpt_to: m.envelope.rcptTo, error: (err as Error).message });
      post({ type: "recorded", id: m.id, error: (err as Error).message });
    }
  };
  // Messages posted before the thread's module has loaded are dropped: wait for it to say so.
  await next("ready");
  const started = next("listening", "failed");
  post({ type: "start", config: deps.config, secret: linkSecret(deps), port });
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
