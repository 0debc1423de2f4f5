/**
 * The SMTP submission listener (docs/api-reference.md §17) on MAILROOM_SMTP_HOST:MAILROOM_SMTP_PORT. Callbacks
 * only adapt the protocol: they call submission.ts and map errors with replies.ts.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:net";
import type { SMTPServerSession } from "smtp-server";
import { normalizeIp } from "@/auth/ip";
import type { Deps } from "@/deps";
import { MailroomSmtpServer } from "./listener";
import { queuedReply, Replies, toSmtpReply } from "./replies";
import { acceptSubmission, authenticateSubmission, checkRecipient, reauthenticate, submissionChannel, type SubmissionUser } from "./submission";

export const SUBMISSION_MAX_BYTES = 10 * 1024 * 1024;
export const MAX_RECIPIENTS = 50;
export const MAX_MESSAGES_PER_CONNECTION = 100;
export const MAX_CONNECTIONS = 100;
export const IDLE_TIMEOUT_MS = 60_000;

const userOf = (session: SMTPServerSession) => session.user as unknown as SubmissionUser;

/** Builds the submission server on an already bound `listener`; STARTTLS with the HTTPS certificate when configured. */
export function createSubmissionServer(deps: Deps, listener: Server): MailroomSmtpServer {
  const { config } = deps;
  const tls = config.tlsCert ? { key: readFileSync(config.tlsKey!), cert: readFileSync(config.tlsCert) } : { disabledCommands: ["STARTTLS"] };
  const server: MailroomSmtpServer = new MailroomSmtpServer({
    listener,
    greetingHost: new URL(config.publicUrl).hostname,
    guardAuth: true,
    log: deps.log,
    component: "smtp",
    authMethods: ["PLAIN", "LOGIN"],
    // The listener's own guard (TLS or loopback) decides; smtp-server's would refuse loopback too.
    allowInsecureAuth: true,
    ...tls,
    size: SUBMISSION_MAX_BYTES,
    maxRecipients: MAX_RECIPIENTS,
    maxClients: MAX_CONNECTIONS,
    socketTimeout: IDLE_TIMEOUT_MS,
    onAuth(auth, session, callback) {
      try {
        const user = authenticateSubmission(deps, auth.username ?? undefined, auth.password ?? undefined, normalizeIp(session.remoteAddress));
        callback(null, { user: user as never });
      } catch (err) {
        callback(toSmtpReply(err, "auth"));
      }
    },
    onMailFrom(_address, session, callback) {
      if (session.transaction > MAX_MESSAGES_PER_CONNECTION) return callback(Replies.tooManyMessages());
      try {
        const user = userOf(session);
        reauthenticate(deps, user);
        submissionChannel(deps, user);
        callback();
      } catch (err) {
        callback(toSmtpReply(err, "session"));
      }
    },
    onRcptTo(address, session, callback) {
      try {
        checkRecipient(deps, submissionChannel(deps, userOf(session)), address.address);
        callback();
      } catch (err) {
        callback(toSmtpReply(err, "session"));
      }
    },
    onData(stream, session, callback) {
      server.handleData(stream, session, callback, SUBMISSION_MAX_BYTES, "session", async (raw) => {
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        return queuedReply(await acceptSubmission(deps, userOf(session), recipients, raw));
      });
    },
  });
  return server;
}
