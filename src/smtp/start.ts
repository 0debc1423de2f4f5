/**
 * Starting the SMTP listeners as runtime components: the local capture server (§18, unless
 * MAILROOM_CAPTURE=0) and the submission listener (§17, unless its port is 0 = off). The inbound
 * bounce listener runs in its own thread (inbound-thread.ts).
 *
 * Ports are bound at start-up (a taken port still fails the start), but smtp-server and the listener
 * modules (~3.5 MiB resident) are loaded when the first client connects: an idle instance, or one
 * that only serves HTTP, never pays for them.
 */
import { createServer, type Server, type Socket } from "node:net";
import { StartupError } from "@/lib/errors";
import type { Deps } from "@/deps";
import type { MailroomSmtpServer } from "./listener";

export const CAPTURE_HOST = "127.0.0.1";

export interface SmtpComponent {
  name: string;
  port: number;
  stop(): Promise<void>;
}

type Build = (listener: Server) => MailroomSmtpServer;

async function listen(name: string, host: string, port: number, deps: Deps, load: () => Promise<Build>): Promise<SmtpComponent> {
  const listener = createServer();
  let server: Promise<MailroomSmtpServer | null> | null = null;
  const waiting: Socket[] = [];
  // A client that resets while the modules load must not raise an unhandled socket error.
  const ignore = () => {};
  const firstConnections = (socket: Socket) => {
    socket.on("error", ignore);
    waiting.push(socket);
    server ??= load().then(
      (build) => {
        listener.off("connection", firstConnections);
        const built = build(listener);
        for (const s of waiting.splice(0)) listener.emit("connection", s.off("error", ignore));
        return built;
      },
      (err) => {
        deps.log.error(`${name}.load_failed`, { error: String(err) });
        for (const s of waiting.splice(0)) s.destroy();
        server = null;
        return null;
      },
    );
  };
  listener.on("connection", firstConnections);
  let bound: number;
  try {
    bound = await new Promise<number>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(port, host, () => {
        listener.off("error", reject);
        resolve((listener.address() as { port: number }).port);
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StartupError(`${name} port ${port} on ${host} is not available: ${code ?? (err as Error).message}`);
  }
  listener.on("error", (err: NodeJS.ErrnoException) => deps.log.warn(`${name}.error`, { error: err.message, code: err.code }));
  deps.log.info(`${name}.listening`, { host, port: bound });
  return {
    name,
    port: bound,
    async stop() {
      const running = await server;
      if (running) return running.stop(deps.config.shutdownTimeoutMs);
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

/** Starts the capture server on 127.0.0.1 and publishes its port in `deps.capturePort` for the worker. */
export async function startCaptureServer(deps: Deps): Promise<SmtpComponent> {
  const component = await listen("capture", CAPTURE_HOST, deps.config.capturePort, deps, async () => {
    const { createCaptureServer } = await import("./capture-server");
    return (listener) => createCaptureServer(deps, listener);
  });
  deps.capturePort = component.port;
  return {
    ...component,
    stop: async () => {
      deps.capturePort = undefined;
      await component.stop();
    },
  };
}

/** Starts the submission listener on MAILROOM_SMTP_HOST and `port` (0 = ephemeral; tests). */
export function startSubmissionServer(deps: Deps, port: number): Promise<SmtpComponent> {
  return listen("smtp", deps.config.smtpHost, port, deps, async () => {
    const { createSubmissionServer } = await import("./server");
    return (listener) => createSubmissionServer(deps, listener);
  });
}
