/**
 * The smtp-server base both Mailroom listeners (submission §17, capture §18) run on. It pins the
 * protocol surface to the contract: the `220 <host> Mailroom ESMTP` greeting, enhanced status
 * codes on every reply (ours carry their own; a few library texts are replaced by §17's), VRFY 252,
 * EXPN 502, AUTH only over TLS or from loopback (538 otherwise), 421 on shutdown — and gives
 * listeners a promise-based listen/stop. Callbacks stay thin: they call services and map errors.
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";
import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { isLoopback } from "@/auth/ip";
import type { Logger } from "@/lib/log";
import { Replies, SmtpReply, toSmtpReply, type Stage } from "./replies";

/** A reply text that already starts with an enhanced status code (RFC 3463). */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/** Library replies whose wording §17 fixes differently. */
const LIBRARY_REPLIES: [number, RegExp, () => SmtpReply][] = [
  [504, /^Error: Unrecognized authentication type/, Replies.unknownMechanism],
  [501, /^Error: Bad recipient address syntax/, Replies.badRecipient],
  [452, /^Error: too many recipients/, Replies.tooManyRecipients],
  [552, /^Error: message exceeds fixed maximum message size/, Replies.tooBig],
  [421, /^Server shutting down/, Replies.shuttingDown],
  [421, / Too many connected clients/, Replies.tooManyConnections],
];

class MailroomConnection extends SMTPConnection {
  declare _server: MailroomSmtpServer;

  /** Plain-text AUTH is offered and accepted only over TLS or from a loopback peer. */
  authAllowed(): boolean {
    return !this._server.guardAuth || this.secure || isLoopback(this.remoteAddress);
  }

  override _sendGreeting(): void {
    this.send(220, `${this._server.greetingHost} Mailroom ESMTP`, false);
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (Array.isArray(data)) {
      // The only multi-line reply is EHLO's: hide AUTH where it would be refused.
      const lines = this.authAllowed() ? data : data.filter((line) => !/^AUTH\b/.test(line));
      return super.send(code, lines, context);
    }
    let text = data ?? "";
    const fixed = LIBRARY_REPLIES.find(([c, re]) => c === code && re.test(text));
    if (fixed) text = fixed[2]().message;
    if (ENHANCED.test(text)) return super.send(code, text, false);
    return super.send(code, data, context);
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    const method = command.toString().trim().split(/\s+/)[1]?.toUpperCase() ?? "";
    if (this._server.options.authMethods?.includes(method) && !this.authAllowed()) {
      const reply = Replies.encryptionRequired();
      this.send(reply.responseCode, reply.message);
      return callback();
    }
    super.handler_AUTH(command, callback);
  }

  override handler_VRFY(_command: Buffer, callback: () => void): void {
    const reply = Replies.vrfy();
    this.send(reply.responseCode, reply.message);
    callback();
  }

  handler_EXPN(_command: Buffer, callback: () => void): void {
    const reply = Replies.expn();
    this.send(reply.responseCode, reply.message);
    callback();
  }
}

export interface ListenerOptions extends SMTPServerOptions {
  /** Host name in the greeting. */
  greetingHost: string;
  /** Refuse plain-text AUTH unless over TLS or from loopback (§17). */
  guardAuth?: boolean;
  log: Logger;
  /** Log event prefix, e.g. "smtp" or "capture". */
  component: string;
  /** The socket server already bound at start-up (start.ts); this server accepts on it. */
  listener: Server;
}

/** smtp-server with Mailroom's protocol surface; see the file comment. */
export class MailroomSmtpServer extends SMTPServer {
  readonly greetingHost: string;
  readonly guardAuth: boolean;
  readonly log: Logger;
  readonly component: string;
  /** Sessions whose message is being processed (onData has not answered yet). */
  private readonly busy = new Set<string>();

  constructor(options: ListenerOptions) {
    const { greetingHost, guardAuth, log, component, listener, ...smtp } = options;
    super({
      logger: false,
      name: greetingHost,
      disableReverseLookup: true,
      hideENHANCEDSTATUSCODES: false,
      authRequiredMessage: Replies.authRequired().message,
      ...smtp,
    });
    this.greetingHost = greetingHost;
    this.guardAuth = !!guardAuth;
    this.log = log;
    this.component = component;
    this.on("error", (err: Error & { code?: string }) => log.warn(`${component}.error`, { error: err.message, code: err.code }));
    // Take over the bound listener: smtp-server's own server (never listening) only lends its
    // connection handler, so close() stops accepting and waits for sessions on the real one.
    // (The listener's own errors are logged by start.ts, which owns it from start-up.)
    for (const handler of this.server.listeners("connection")) listener.on("connection", handler as (socket: Socket) => void);
    this.server = listener;
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new MailroomConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on("error", (err: Error) => this.emit("error", err));
    connection.init();
  }

  /**
   * Reads a DATA stream (stopping to buffer past `maxBytes`) and answers with what `handle`
   * returns, or with the reply its error maps to. Unknown errors are logged and answered 451.
   */
  handleData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
    maxBytes: number,
    stage: Stage,
    handle: (raw: Buffer) => Promise<string> | string,
  ): void {
    const chunks: Buffer[] = [];
    let size = 0;
    this.busy.add(session.id);
    const finish = (err: Error | null, message?: string) => {
      this.busy.delete(session.id);
      callback(err, message);
    };
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    stream.on("error", () => this.busy.delete(session.id));
    stream.on("end", async () => {
      if (stream.sizeExceeded || size > maxBytes) return finish(Replies.tooBig());
      try {
        finish(null, await handle(Buffer.concat(chunks, size)));
      } catch (err) {
        const reply = toSmtpReply(err, stage);
        if (!(err instanceof SmtpReply) && reply.responseCode === 451) {
          this.log.error(`${this.component}.data_error`, { session: session.id, error: String(err), stack: (err as Error)?.stack });
        }
        finish(reply);
      }
    });
  }

  /**
   * Stops accepting, answers idle sessions `421 4.3.2 Service shutting down` right away, lets
   * sessions with a message in processing finish it, and closes the rest after `timeoutMs`.
   */
  stop(timeoutMs: number): Promise<void> {
    this.options.closeTimeout = Math.max(1, timeoutMs);
    const closed = new Promise<void>((resolve) => this.close(() => resolve()));
    const reply = Replies.shuttingDown();
    for (const connection of this.connections) {
      if (!this.busy.has(connection.session.id)) connection.send(reply.responseCode, reply.message);
    }
    return closed;
  }
}
