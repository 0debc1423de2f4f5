/**
 * SMTP replies of docs/api-reference.md §17/§18, and the mapping from the transport-neutral AppError
 * (lib/errors.ts) to them: the reply code comes from the error's code and reason, never from its
 * message text. smtp-server sends `err.responseCode` + `err.message`; our messages carry their own
 * enhanced status code, which the listener (listener.ts) then leaves untouched.
 */
import { AppError } from "@/lib/errors";

/** An SMTP reply as an Error, the shape smtp-server callbacks understand. */
export class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    /** "<enhanced code> <text>", e.g. "5.7.8 Authentication credentials invalid". */
    message: string,
  ) {
    super(message);
  }
}

const r = (code: number, text: string) => () => new SmtpReply(code, text);

/** Every fixed reply of the contract, by name. */
export const Replies = {
  authRequired: r(530, "5.7.0 Authentication required"),
  encryptionRequired: r(538, "5.7.11 Encryption required for requested authentication mechanism"),
  badCredentials: r(535, "5.7.8 Authentication credentials invalid"),
  tokenExpired: r(535, "5.7.8 API token has expired"),
  tooManyAuthFailures: r(454, "4.7.0 Too many failed authentication attempts, retry later"),
  unknownMechanism: r(504, "5.5.4 Unrecognized authentication type"),
  severalChannels: r(550, "5.7.1 Token targets several channels; use a channel slug as the SMTP username"),
  badRecipient: r(501, "5.1.3 Bad recipient address syntax"),
  suppressed: r(550, "5.7.1 Recipient is suppressed"),
  tooManyRecipients: r(452, "4.5.3 Too many recipients"),
  tooBig: r(552, "5.3.4 Message size exceeds fixed maximum message size"),
  missingFrom: r(550, "5.6.0 Missing From header"),
  foreignFrom: r(553, "5.7.1 From domain not allowed for this channel"),
  foreignSender: r(553, "5.7.1 Sender domain not allowed for this channel"),
  singleFrom: r(553, "5.7.1 From must be one header holding one mailbox"),
  singleSender: r(553, "5.7.1 Sender must be one header holding one mailbox"),
  rateLimited: r(451, "4.7.1 Rate limit exceeded, retry later"),
  quotaExhausted: r(550, "5.7.0 Monthly send quota exhausted"),
  tooManyConnections: r(421, "4.7.0 Too many connections, try again later"),
  tooManyMessages: r(421, "4.7.0 Too many messages on this connection, reconnect to continue"),
  shuttingDown: r(421, "4.3.2 Service shutting down"),
  localError: r(451, "4.3.0 Local error in processing, retry later"),
  vrfy: r(252, "2.5.2 Cannot VRFY user, but will accept message and attempt delivery"),
  expn: r(502, "5.5.1 Command not implemented"),
  captureOnlyMailroom: r(554, "5.7.1 Capture accepts only Mailroom deliveries"),
  notBounceAddress: r(550, "5.1.1 Recipient address rejected: not a bounce address of this host"),
  tooManyParts: r(554, "5.6.0 Too many MIME parts"),
} as const;

export const queuedReply = (ids: readonly number[]) => `2.0.0 Ok: queued as ${ids.join(",")}`;
export const capturedReply = (id: number) => `2.0.0 Ok: captured as ${id}`;
export const receivedReply = (id: number) => `2.0.0 Ok: received as ${id}`;

/** Where in the session the error happened: AUTH failures are all 535 (no oracle on why). */
export type Stage = "auth" | "session" | "capture";

/**
 * Maps any error thrown by a service to the reply the client gets. Unknown errors (bugs, a busy
 * database) become a temporary 451 so the client retries; the caller logs them.
 */
export function toSmtpReply(err: unknown, stage: Stage): SmtpReply {
  if (err instanceof SmtpReply) return err;
  if (!(err instanceof AppError)) return Replies.localError();
  switch (err.code) {
    case "unauthorized":
      return err.reason === "token_expired" ? Replies.tokenExpired() : Replies.badCredentials();
    case "forbidden":
      if (stage === "auth") return Replies.badCredentials();
      if (stage === "capture") return Replies.captureOnlyMailroom();
      return new SmtpReply(550, `5.7.1 ${String(err.details.message ?? err.publicMessage)}`);
    case "rate_limited":
      return stage === "auth" ? Replies.tooManyAuthFailures() : Replies.rateLimited();
    case "payment_required":
      // "Monthly send quota exhausted", or "…insufficient: N recipients, M remaining" (§1.8).
      return typeof err.details.message === "string" ? new SmtpReply(550, `5.7.0 ${err.details.message}`) : Replies.quotaExhausted();
    case "payload_too_large":
      return Replies.tooBig();
    case "not_found":
    case "unprocessable":
      return stage === "capture" ? Replies.captureOnlyMailroom() : new SmtpReply(550, `5.7.1 ${err.publicMessage}`);
    default:
      return Replies.localError();
  }
}
