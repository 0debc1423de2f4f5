/**
 * Starting the two SMTP listeners as runtime components: the local capture server (§18, unless
 * MAILROOM_CAPTURE=0) and the submission listener (§17, unless its port is 0 = off).
 */
import { StartupError } from "@/boot";
import type { Deps } from "@/deps";
import { CAPTURE_HOST, createCaptureServer } from "./capture-server";
import type { MailroomSmtpServer } from "./listener";
import { createSubmissionServer } from "./server";

export interface SmtpComponent {
  name: string;
  port: number;
  stop(): Promise<void>;
}

async function listen(server: MailroomSmtpServer, name: string, host: string, port: number, deps: Deps): Promise<SmtpComponent> {
  let bound: number;
  try {
    bound = await server.listenOn(port, host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StartupError(`${name} port ${port} on ${host} is not available: ${code ?? (err as Error).message}`);
  }
  deps.log.info(`${name}.listening`, { host, port: bound });
  return { name, port: bound, stop: () => server.stop(deps.config.shutdownTimeoutMs) };
}

/** Starts the capture server on 127.0.0.1 and publishes its port in `deps.capturePort` for the worker. */
export async function startCaptureServer(deps: Deps): Promise<SmtpComponent> {
  const component = await listen(createCaptureServer(deps), "capture", CAPTURE_HOST, deps.config.capturePort, deps);
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
  return listen(createSubmissionServer(deps), "smtp", deps.config.smtpHost, port, deps);
}
