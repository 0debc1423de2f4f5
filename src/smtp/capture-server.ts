/**
 * The local capture server (docs/api-reference.md §18): SMTP on 127.0.0.1, no AUTH, ≤ 20 MiB, any envelope. It
 * accepts only Mailroom's own deliveries (valid `X-Mailroom-Capture` header) and stores them through
 * the captured_messages service, answering `250 2.0.0 Ok: captured as <id>`.
 */
import type { Server } from "node:net";
import { isLoopback } from "@/auth/ip";
import type { Deps } from "@/deps";
import { captureMessage } from "@/features/captured_messages/service";
import { MailroomSmtpServer } from "./listener";
import { capturedReply, Replies } from "./replies";

export const CAPTURE_MAX_BYTES = 20 * 1024 * 1024;

/** Builds the capture server on an already bound `listener`. */
export function createCaptureServer(deps: Deps, listener: Server): MailroomSmtpServer {
  const server: MailroomSmtpServer = new MailroomSmtpServer({
    listener,
    greetingHost: "localhost",
    log: deps.log,
    component: "capture",
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    size: CAPTURE_MAX_BYTES,
    maxClients: 100,
    onConnect(session, callback) {
      // Bound to 127.0.0.1 already; this also covers a proxied/forwarded socket.
      if (!isLoopback(session.remoteAddress)) return callback(Replies.captureOnlyMailroom());
      callback();
    },
    onData(stream, session, callback) {
      server.handleData(stream, session, callback, CAPTURE_MAX_BYTES, "capture", async (raw) => {
        const id = await captureMessage(deps, {
          raw,
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
        });
        return capturedReply(id);
      });
    },
  });
  return server;
}
