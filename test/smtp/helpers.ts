/**
 * Helpers for the SMTP tests: a scripted raw-socket SMTP conversation (exact reply lines), and a
 * way to put a message into the capture server the way the worker does (an outbox row + a real
 * SMTP delivery carrying a signed X-Mailroom-Capture header).
 */
import { connect, type Socket } from "node:net";
import nodemailer from "nodemailer";
import type Mail from "nodemailer/lib/mailer";
import { eq } from "drizzle-orm";
import { channels } from "@/db/schema";
import { linkSecret } from "@/db/settings";
import { captureHeaderValue } from "@/lib/links";
import type { TestServer } from "../harness";

/** A line-oriented SMTP client: `expect()` resolves with the next complete reply (multi-line joined by \n). */
export class SmtpScript {
  private buffer = "";
  private waiters: ((reply: string) => void)[] = [];
  private replies: string[] = [];
  readonly socket: Socket;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (d) => {
      this.buffer += d.toString("latin1");
      let m: RegExpExecArray | null;
      // A reply ends at a line "ddd <text>" (no dash after the code).
      while ((m = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n)/.exec(this.buffer))) {
        this.buffer = this.buffer.slice(m[1].length);
        const reply = m[1].trimEnd().replace(/\r\n/g, "\n");
        const w = this.waiters.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    });
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w("<closed>");
    });
    socket.on("error", () => {});
  }

  static open(port: number, host = "127.0.0.1"): Promise<SmtpScript> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new SmtpScript(socket)));
      socket.once("error", reject);
    });
  }

  /** The next reply from the server. */
  next(timeoutMs = 5000): Promise<string> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed) return Promise.resolve("<closed>");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no SMTP reply within " + timeoutMs + " ms")), timeoutMs);
      this.waiters.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  /** Sends one command line and returns the reply to it. */
  async send(line: string): Promise<string> {
    this.socket.write(line + "\r\n");
    return this.next();
  }

  close(): void {
    this.socket.destroy();
  }
}

export const plainAuth = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString("base64");

/** A nodemailer transport to the submission listener (loopback, no TLS). */
export function submissionClient(server: TestServer, user: string, pass: string) {
  return nodemailer.createTransport({ host: "127.0.0.1", port: server.smtpPort, secure: false, ignoreTLS: true, auth: { user, pass } });
}

/**
 * Creates a `sent` outbox row for `channelSlug` (so the worker leaves it alone) and delivers `mail`
 * into the capture server with that row's signed capture header, like the worker does.
 * Returns the outbox id and the capture server's reply.
 */
export async function deliverToCapture(
  server: TestServer,
  mail: Mail.Options,
  o: { channel?: string; kind?: "transactional" | "broadcast"; broadcastId?: number } = {},
): Promise<{ outboxId: number; response: string }> {
  const { deps } = server;
  const channel = deps.db.select().from(channels).where(eq(channels.slug, o.channel ?? "default")).get()!;
  const now = deps.clock.now();
  const [{ id }] = deps.outbox.enqueue([{
    channel_id: channel.id,
    kind: o.kind ?? "transactional",
    source: "api",
    status: "sent",
    recipient_email: String(mail.to),
    subject: String(mail.subject ?? ""),
    broadcast_id: o.broadcastId ?? null,
  }], now);
  const info = await captureClient(server).sendMail({
    ...mail,
    headers: { ...(mail.headers as Record<string, string>), "X-Mailroom-Capture": captureHeaderValue(linkSecret(deps), id) },
  });
  return { outboxId: id, response: info.response };
}

/** A nodemailer transport straight to the capture server. */
export const captureClient = (server: TestServer) =>
  nodemailer.createTransport({ host: "127.0.0.1", port: server.capturePort!, secure: false, ignoreTLS: true });

/** Polls `fn` until it returns a truthy value. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error("condition not met within " + timeoutMs + " ms");
    await Bun.sleep(20);
  }
}
