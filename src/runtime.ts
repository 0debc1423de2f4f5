/**
 * Starts and stops the running parts of an instance — HTTP, and the background ticker (usage
 * flush, limiter pruning) — in the shutdown order of STYLE §7. Used by `serve` and by the test
 * harness, so tests run exactly what production runs.
 */
import { createApp } from "./app";
import type { Deps } from "./deps";
import { listenHttp, type HttpServer } from "./http/server";
import { startCaptureServer, startSubmissionServer } from "./smtp/start";
import { SendWorker } from "./worker/send-worker";

export interface Running {
  http: HttpServer;
  /** Bound ports of the SMTP submission listener and the capture server (null = not running). */
  smtpPort: number | null;
  capturePort: number | null;
  /** The outbox send worker (tests call `tick()` on it). */
  worker: SendWorker;
  /** Graceful: stop accepting, finish in-flight work, flush usage, close the DB. */
  stop(): Promise<void>;
}

/** A part that runs in the background and stops in reverse start order. */
export interface Component {
  name: string;
  stop(): Promise<void> | void;
}

export interface StartOptions {
  port?: number;
  hostname?: string;
  /** SMTP submission port overriding MAILROOM_SMTP_PORT, where 0 means "off"; here 0 = ephemeral (tests). */
  smtpPort?: number;
}

export async function startMailroom(deps: Deps, options: StartOptions = {}): Promise<Running> {
  const app = createApp(deps);
  const http = listenHttp(app, deps, options);
  const ticker = setInterval(() => deps.auth.tick(), 1000);
  const components: Component[] = [];
  let stopped: Promise<void> | null = null;
  const smtpPort = options.smtpPort ?? (deps.config.smtpPort || null);
  let ports: { smtp: number | null; capture: number | null };
  let worker: SendWorker;
  try {
    // Capture starts first (the worker delivers into it) and so stops last.
    const capture = deps.config.capture ? await startCaptureServer(deps) : null;
    if (capture) components.push(capture);
    const smtp = smtpPort === null ? null : await startSubmissionServer(deps, smtpPort);
    if (smtp) components.push(smtp);
    ports = { smtp: smtp?.port ?? null, capture: capture?.port ?? null };
    // The send worker stops first (reverse order): it drains into capture/servers before they close.
    worker = new SendWorker(deps);
    deps.notifyOutbox = () => worker.wake();
    worker.start();
    components.push({ name: "send-worker", stop: () => worker.stop() });
  } catch (err) {
    await http.stop(0);
    for (const c of components.reverse()) await c.stop();
    clearInterval(ticker);
    throw err;
  }
  return {
    http,
    smtpPort: ports.smtp,
    capturePort: ports.capture,
    worker,
    stop() {
      stopped ??= (async () => {
        await http.stop(deps.config.shutdownTimeoutMs);
        for (const c of components.reverse()) await c.stop();
        clearInterval(ticker);
        deps.auth.usage.flush();
        deps.log.info("server.stopped", {});
        deps.log.flush();
        deps.database.close();
      })();
      return stopped;
    },
  };
}
