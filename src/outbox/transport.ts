/**
 * The delivery job's view of "the next hop": one message, one target (an email server or the local
 * capture server), one classified outcome. The nodemailer implementation is transport-smtp.ts.
 */
import type { ServerTarget } from "@/features/email_servers/target";

/** The local capture server (§18): loopback SMTP, no auth. */
export interface CaptureTarget {
  kind: "capture";
  host: string;
  port: number;
}

export type Target = ServerTarget | CaptureTarget;

export interface Address {
  name: string | null;
  address: string;
}

export interface Envelope {
  from: string;
  to: string[];
}

/**
 * Either a structured message (rendered by the delivery job) or raw MIME delivered as is (SMTP
 * submissions). `lane` is the outbox lane: at a busy target, priority mail overtakes bulk mail that
 * waits for a connection (default bulk).
 */
export type OutboundMessage = { lane?: "priority" | "bulk" } & (
  | {
      kind: "structured";
      envelope: Envelope;
      from: Address;
      to: Address;
      replyTo: string | null;
      subject: string;
      html: string;
      text: string;
      /** `<id@host>` */
      messageId: string;
      /** Extra headers (List-Unsubscribe, X-Mailroom-Capture, …). */
      headers: Record<string, string>;
    }
  | {
      kind: "raw";
      envelope: Envelope;
      raw: Buffer;
      /** Headers prepended to the raw MIME (only X-Mailroom-Capture). */
      headers: Record<string, string>;
    }
);

/**
 * Outcome classes (§9 routing):
 * - `sent`: the next hop answered 250 to DATA.
 * - `temporary`: 4xx or a network error mid-transaction — retry later with backoff.
 * - `throttled`: 421/451/454 "try later": the server is busy — it is slowed down and the message waits
 *   without counting an attempt.
 * - `permanent`: 5xx to RCPT TO or DATA — hard bounce, suppress the address.
 * - `server`: the server itself failed (connect, greeting, EHLO, STARTTLS, AUTH, 5xx to MAIL FROM)
 *   — fail over to the next server; the message stays queued.
 */
export type SendResult =
  | { outcome: "sent"; response: string }
  | { outcome: "temporary"; response: string }
  | { outcome: "throttled"; response: string }
  | { outcome: "permanent"; response: string }
  | { outcome: "server"; response: string };

export interface Transport {
  send(message: OutboundMessage, target: Target): Promise<SendResult>;
  /** Opens a connection, EHLO, STARTTLS/TLS, AUTH, then quits (test_connection, §9). */
  verify(target: ServerTarget, timeoutMs: number): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Drops pooled connections of servers not in `keep` (deleted or changed). */
  prune(keep: ReadonlySet<string>): void;
  close(): Promise<void>;
}

/** Pool key of an email server row version (a changed row gets a fresh pool). */
export const serverKey = (id: number, version: number) => `server:${id}:${version}`;

/** The pool key of a target. */
export const targetKey = (t: Target) => (t.kind === "capture" ? `capture:${t.host}:${t.port}` : serverKey(t.id, t.version));
