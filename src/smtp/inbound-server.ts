/**
 * The inbound bounce listener (docs/bounces.md) on MAILROOM_INBOUND_HOST:MAILROOM_INBOUND_PORT:
 * receives DSNs, feedback reports and auto-replies addressed to the signed return paths of
 * MAILROOM_BOUNCE_DOMAIN (and its feedback address). No AUTH; STARTTLS with the HTTPS certificate
 * when one is configured; any other recipient is refused at RCPT TO (`550 5.1.1`), before DATA.
 * Limits: 10 MiB per message (552), one recipient per transaction, connections per IP, messages
 * per IP per minute (loopback exempt: a local MTA relaying the bounce domain is one address).
 * Each message is classified here and `record` (the database side) applies it. The listener runs in
 * its own thread (inbound-thread.ts); `pace` holds each transaction back while the API thread is busy.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:net";
import { RateLimiter } from "@/auth/rate-limiter";
import { isLoopback, normalizeIp } from "@/auth/ip";
import type { Config } from "@/config";
import { classifyMessage, TooManyParts, type Classified } from "@/features/bounces/classify";
import type { InboundEnvelope } from "@/features/bounces/inbound";
import { acceptsRecipient } from "@/features/bounces/verp";
import type { Logger } from "@/lib/log";
import type { Clock } from "@/lib/time";
import { MailroomSmtpServer } from "./listener";
import { receivedReply, Replies } from "./replies";

export const INBOUND_MAX_BYTES = 10 * 1024 * 1024;
export const INBOUND_MAX_CONNECTIONS = 200;
export const INBOUND_CONNECTIONS_PER_IP = 10;
export const INBOUND_MESSAGES_PER_IP_PER_MINUTE = 600;
const MAX_MESSAGES_PER_CONNECTION = 100;
const IDLE_TIMEOUT_MS = 60_000;

export interface InboundServerOptions {
  config: Readonly<Config>;
  log: Logger;
  clock: Clock;
  /** The link secret (the return paths' HMAC key). */
  secret: string;
  /** Records a classified message (`raw` as received); resolves with its inbound_messages id. */
  record(envelope: InboundEnvelope, classified: Classified, raw: Buffer): Promise<number>;
  /** Awaited before each transaction is accepted at MAIL FROM (jobs/api-load.ts): the sender waits for its answer. */
  pace?: () => Promise<void>;
}

/** Builds the inbound listener on an already bound `listener`. */
export function createInboundServer(options: InboundServerOptions, listener: Server): MailroomSmtpServer {
  const { config, log, clock, secret, record, pace } = options;
  const domain = config.bounceDomain!;
  const tls = config.tlsCert ? { key: readFileSync(config.tlsKey!), cert: readFileSync(config.tlsCert) } : {};
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  const messages = new RateLimiter<string>();
  const server: MailroomSmtpServer = new MailroomSmtpServer({
    listener,
    greetingHost: new URL(config.publicUrl).hostname,
    log,
    component: "inbound",
    authOptional: true,
    disabledCommands: config.tlsCert ? ["AUTH"] : ["AUTH", "STARTTLS"],
    ...tls,
    size: INBOUND_MAX_BYTES,
    maxRecipients: 1,
    maxClients: INBOUND_MAX_CONNECTIONS,
    socketTimeout: IDLE_TIMEOUT_MS,
    onConnect(session, callback) {
      const ip = normalizeIp(session.remoteAddress);
      const open = (perIp.get(ip) ?? 0) + 1;
      perIp.set(ip, open);
      counted.add(session.id);
      if (open > INBOUND_CONNECTIONS_PER_IP) {
        log.warn("inbound.too_many_connections", { remote_ip: ip, open });
        return callback(Replies.tooManyConnections());
      }
      callback();
    },
    onClose(session) {
      if (!counted.delete(session.id)) return;
      const ip = normalizeIp(session.remoteAddress);
      const open = (perIp.get(ip) ?? 1) - 1;
      if (open > 0) perIp.set(ip, open);
      else perIp.delete(ip);
    },
    onMailFrom(_address, session, callback) {
      if (session.transaction > MAX_MESSAGES_PER_CONNECTION) return callback(Replies.tooManyMessages());
      if (!isLoopback(session.remoteAddress)) {
        const now = clock.now();
        messages.pruneEvery(now);
        if (!messages.take(normalizeIp(session.remoteAddress), INBOUND_MESSAGES_PER_IP_PER_MINUTE, now).allowed) return callback(Replies.rateLimited());
      }
      // Held here, before the sender transmits the message: its whole transaction waits its turn.
      if (pace) void pace().then(() => callback());
      else callback();
    },
    onRcptTo(address, _session, callback) {
      callback(acceptsRecipient(secret, domain, address.address) ? null : Replies.notBounceAddress());
    },
    onData(stream, session, callback) {
      stream.on("end", () => {
        if (stream.sizeExceeded) log.warn("inbound.refused", { remote_ip: normalizeIp(session.remoteAddress), reason: `larger than ${INBOUND_MAX_BYTES} bytes` });
      });
      server.handleData(stream, session, callback, INBOUND_MAX_BYTES, "session", async (raw) => {
        const envelope: InboundEnvelope = {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address || null : null,
          rcptTo: session.envelope.rcptTo[0]!.address,
          remoteIp: normalizeIp(session.remoteAddress),
        };
        let classified: Classified;
        try {
          classified = await classifyMessage(raw);
        } catch (err) {
          if (!(err instanceof TooManyParts)) throw err;
          log.warn("inbound.refused", { remote_ip: envelope.remoteIp, rcpt_to: envelope.rcptTo, size: raw.length, reason: err.message });
          throw Replies.tooManyParts();
        }
        return receivedReply(await record(envelope, classified, raw));
      });
    },
  });
  return server;
}
