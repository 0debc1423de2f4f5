/**
 * Entry of the inbound listener's thread (inbound-thread.ts): binds the port and runs the listener.
 * In production each classified message is recorded here, on this thread's own connection to the
 * data dir's database; otherwise it is posted to the main thread and the SMTP answer waits for its
 * reply. Log lines go to the main thread (one writer for stdout).
 */
import { createServer, type Server } from "node:net";
import { buildDeps, databasePath } from "@/boot";
import { openDb, type Database } from "@/db/client";
import type { Classified } from "@/features/bounces/classify";
import { recordInbound, type InboundEnvelope } from "@/features/bounces/inbound";
import { ApiLoad, BACKGROUND_SHARE, Pacer, runAsBackgroundThread } from "@/jobs/api-load";
import { createLogger, type Logger } from "@/lib/log";
import { systemClock } from "@/lib/time";
import { CaptureForwarder } from "./inbound-capture";
import { createInboundServer } from "./inbound-server";
import { captureTarget, type FromInbound, type ToInbound } from "./inbound-thread";
import type { MailroomSmtpServer } from "./listener";

declare const self: Worker;
const send = (m: FromInbound) => self.postMessage(m);

// Bounces are background work: a DSN flood must not slow the API's answers.
runAsBackgroundThread();

/**
 * Messages taken per 100 ms while the API is busy (20 a second): a DSN costs ~0.8 ms of this thread
 * and ~0.4 ms of its sender, too much for the CPU share alone to keep the API's tail latency.
 */
const BUSY_MESSAGES_PER_WINDOW = 2;

type Recorder = (envelope: InboundEnvelope, classified: Classified, raw: Buffer) => Promise<number>;

interface Pending {
  envelope: InboundEnvelope;
  raw: Buffer;
  resolve: (id: number) => void;
  reject: (err: Error) => void;
}
const pending = new Map<number, Pending>();
let nextId = 0;
let server: MailroomSmtpServer | null = null;
let log: Logger | null = null;
let capture: CaptureForwarder | null = null;
let database: Database | null = null;

/** Sends a classified message to the main thread to be recorded (the raw MIME stays here). */
const recordOnMainThread: Recorder = (envelope, classified, raw) => {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { envelope, raw, resolve, reject });
    send({ type: "received", id, envelope, classified, size: raw.length });
  });
};

/** Records on this thread's own connection; a stored reply goes on into capture from here. */
function recordInThisThread(m: Extract<ToInbound, { type: "start" }>, logger: Logger): Recorder {
  database = openDb(databasePath(m.config));
  const deps = buildDeps(m.config, database, logger, systemClock);
  return async (envelope, classified, raw) => {
    const outcome = await recordInbound(deps, envelope, classified, raw.length).catch((err: Error) => {
      // The listener answers 451: the sender retries later.
      logger.error("inbound.record_failed", { rcpt_to: envelope.rcptTo, error: err.message });
      throw err;
    });
    const target = captureTarget(outcome, m.capturePort);
    if (target) capture?.forward(raw, envelope, target.port, target.messageId);
    return outcome.id;
  };
}

function bind(listener: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host, () => {
      listener.off("error", reject);
      resolve((listener.address() as { port: number }).port);
    });
  });
}

self.onmessage = async (e: MessageEvent<ToInbound>) => {
  const m = e.data;
  switch (m.type) {
    case "start": {
      const logger = (log = createLogger((chunk) => send({ type: "log", chunk })));
      const listener = createServer();
      try {
        const port = await bind(listener, m.config.inboundHost, m.port);
        listener.on("error", (err: NodeJS.ErrnoException) => logger.warn("inbound.error", { error: err.message, code: err.code }));
        const record = m.recordInThread ? recordInThisThread(m, logger) : recordOnMainThread;
        const pacer = new Pacer(new ApiLoad(m.apiLoad), { share: BACKGROUND_SHARE, maxPerWindow: BUSY_MESSAGES_PER_WINDOW });
        server = createInboundServer({ config: m.config, log: logger, clock: systemClock, secret: m.secret, record, pace: () => pacer.yield() }, listener);
        capture = new CaptureForwarder(m.secret, logger);
        send({ type: "listening", port });
      } catch (err) {
        send({ type: "failed", error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
      }
      break;
    }
    case "recorded": {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) break;
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.inboundId!);
      if (m.capture) capture?.forward(p.raw, p.envelope, m.capture.port, m.capture.messageId);
      break;
    }
    case "stop":
      await server?.stop(m.timeoutMs);
      await capture?.close();
      log?.flush();
      database?.close();
      send({ type: "stopped" });
      break;
  }
};

send({ type: "ready" });
