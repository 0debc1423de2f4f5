/**
 * Transport over SMTP with nodemailer (the only module sending with it): one pooled transport per
 * target (`pool: true, maxMessages: Infinity` — recycling connections every 100 messages costs ~5×),
 * structured mail handed over as finished bytes (lib/mime-build.ts), and the §9 classification of
 * SMTP failures into retry / throttle / bounce / failover.
 */
import { isIP } from "node:net";
import type { SendMailOptions } from "nodemailer";
import type SMTPPool from "nodemailer/lib/smtp-pool";
import type SMTPTransport from "nodemailer/lib/smtp-transport";
import type { ServerTarget } from "@/features/email_servers/target";
import { targetKey, type OutboundMessage, type SendResult, type Target, type Transport } from "./transport";

type Nodemailer = typeof import("nodemailer");
type Mailer = ReturnType<Nodemailer["createTransport"]>;
type BuildMime = typeof import("@/lib/mime-build").buildMime;

// Loaded on the first send (not at start-up: ~40 ms to load, and many instances send nothing for a while).
let nodemailerModule: Promise<Nodemailer> | null = null;
let buildMime: BuildMime | null = null;
const loadNodemailer = () =>
  (nodemailerModule ??= Promise.all([import("nodemailer"), import("@/lib/mime-build")]).then(([m, mime]) => {
    buildMime = mime.buildMime;
    return (m.default ?? m) as Nodemailer;
  }));

export interface SmtpTransportOptions {
  /** Extra trusted CA certificates (PEM) for STARTTLS/TLS, e.g. a relay's self-signed cert. */
  ca?: string | string[];
  /** Pooled connections per target (default 5). */
  maxConnections?: number;
}

const AUTH_METHOD = { plain: "PLAIN", login: "LOGIN", cram_md5: "CRAM-MD5" } as const;

interface SmtpError {
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/** A 451/454 that asks the sender to slow down (not a per-recipient greylisting or a local error). */
const THROTTLE_TEXT = /throttl|rate.?limit|too many|slow down|try (again )?later|exceeded/i;

/** Commands before the mail transaction: a failure there (any code) is the server's problem (failover). */
const SESSION_COMMANDS = /^(CONN|EHLO|HELO|LHLO|STARTTLS|AUTH\b|GREETING)/;
const SERVER_ERROR_CODES = new Set(["ECONNECTION", "EAUTH", "ETLS", "EDNS", "ETIMEDOUT", "ECONNREFUSED", "EHOSTUNREACH", "ENOTFOUND", "EPROTOCOL"]);

/**
 * §9 classification of a nodemailer error: 421, or a 451/454 asking to slow down → throttled (the
 * server is paused, the message waits); 5xx to RCPT TO/DATA → permanent (hard bounce); other 4xx or a
 * network error during the transaction → temporary; failures while connecting, greeting, EHLO,
 * STARTTLS, AUTH, or a 5xx to MAIL FROM → server (fail over).
 */
export function classifySmtpError(err: unknown): SendResult {
  const e = (err ?? {}) as SmtpError;
  const command = String(e.command ?? "");
  const code = typeof e.responseCode === "number" ? e.responseCode : undefined;
  const response = (e.response || e.message || String(err)).toString().trim().slice(0, 500);
  if (code === 421 || ((code === 451 || code === 454) && THROTTLE_TEXT.test(response))) return { outcome: "throttled", response };
  if (command === "RCPT TO" || command === "DATA") return { outcome: code !== undefined && code >= 500 ? "permanent" : "temporary", response };
  if (command === "MAIL FROM") return { outcome: code !== undefined && code >= 500 ? "server" : "temporary", response };
  if (SESSION_COMMANDS.test(command)) return { outcome: "server", response };
  if (e.code && SERVER_ERROR_CODES.has(e.code) && command !== "API") return { outcome: "server", response };
  return { outcome: "temporary", response };
}

function transportOptions(target: Target, o: SmtpTransportOptions): SMTPTransport.Options {
  // SNI only for host names (an IP literal as servername is refused by TLS).
  const tls = { ...(o.ca ? { ca: o.ca } : {}), ...(isIP(target.host) ? {} : { servername: target.host }) };
  if (target.kind === "capture") {
    return { host: target.host, port: target.port, secure: false, ignoreTLS: true, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 60_000 };
  }
  return {
    host: target.host,
    port: target.port,
    secure: target.secure,
    ignoreTLS: !target.secure && !target.starttls,
    ...(target.username ? { auth: { user: target.username, pass: target.password ?? "" } } : {}),
    ...(target.username && target.authMethod ? { authMethod: AUTH_METHOD[target.authMethod] } : {}),
    tls,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
  };
}

/** Structured mail goes as the finished message (lib/mime-build.ts: what nodemailer would write, built without its streams). */
function toMail(message: OutboundMessage): SendMailOptions {
  const envelope = { ...message.envelope };
  if (message.kind === "structured") return { envelope, raw: buildMime!(message) };
  const extra = Object.entries(message.headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return { envelope, raw: extra ? Buffer.concat([Buffer.from(extra), message.raw]) : message.raw };
}

/**
 * Messages handed to a pool's mailer at once, per connection: one in flight and one ready, so
 * connections never idle. The rest wait in the pool's lanes, where priority mail goes first —
 * nodemailer's own queue is first come, first served.
 */
const HANDED_PER_CONNECTION = 2;

interface Pool {
  mailer: Mailer;
  /** Messages handed to the mailer and not finished. */
  handed: number;
  /** The server's `max_connections`. */
  maxConnections: number;
  /**
   * Connections in use now: a "try later" reply halves them (once per round: replies to messages
   * handed before the halving do not halve again), and each `2 × connections` accepted messages
   * give one back. While slowed, each connection carries one message at a time.
   */
  connections: number;
  /** Bumped by each halving; a message remembers the round it was handed in. */
  round: number;
  acceptedSinceChange: number;
  waiting: { priority: (() => void)[]; bulk: (() => void)[] };
}

const handLimit = (pool: Pool) => (pool.connections === pool.maxConnections ? pool.connections * HANDED_PER_CONNECTION : pool.connections);

export class SmtpTransport implements Transport {
  private pools = new Map<string, Pool>();

  constructor(private readonly options: SmtpTransportOptions = {}) {}

  private async pool(target: Target): Promise<Pool> {
    const key = targetKey(target);
    let pool = this.pools.get(key);
    if (!pool) {
      const nodemailer = await loadNodemailer();
      const existing = this.pools.get(key); // another send created it while the module loaded
      if (existing) return existing;
      const maxConnections = target.kind === "server" ? target.maxConnections : (this.options.maxConnections ?? 5);
      const mailer = nodemailer.createTransport({ ...transportOptions(target, this.options), pool: true, maxMessages: Infinity, maxConnections } as SMTPPool.Options);
      mailer.on("error", () => {});
      pool = { mailer, handed: 0, maxConnections, connections: maxConnections, round: 0, acceptedSinceChange: 0, waiting: { priority: [], bulk: [] } };
      this.pools.set(key, pool);
    }
    return pool;
  }

  async send(message: OutboundMessage, target: Target): Promise<SendResult> {
    const pool = await this.pool(target);
    if (pool.handed < handLimit(pool)) pool.handed++;
    else await new Promise<void>((resolve) => pool.waiting[message.lane ?? "bulk"].push(resolve));
    const round = pool.round;
    let result: SendResult;
    try {
      const info: { response?: string } = await pool.mailer.sendMail(toMail(message));
      result = { outcome: "sent", response: String(info.response ?? "250 OK").slice(0, 500) };
    } catch (err) {
      result = classifySmtpError(err);
    }
    this.adjust(pool, result, round);
    // The finished message's place goes to the next waiting one (priority first) while there is room.
    pool.handed--;
    this.handOut(pool);
    return result;
  }

  /** Fewer connections after a "try later" reply, one more back after a run of accepted messages. */
  private adjust(pool: Pool, result: SendResult, round: number): void {
    if (result.outcome === "throttled") {
      if (round !== pool.round) return;
      pool.connections = Math.max(1, Math.floor(pool.connections / 2));
      pool.round++;
      pool.acceptedSinceChange = 0;
    } else if (result.outcome === "sent" && pool.connections < pool.maxConnections && ++pool.acceptedSinceChange >= 2 * pool.connections) {
      pool.connections++;
      pool.acceptedSinceChange = 0;
    }
  }

  private handOut(pool: Pool): void {
    while (pool.handed < handLimit(pool)) {
      const next = pool.waiting.priority.shift() ?? pool.waiting.bulk.shift();
      if (!next) return;
      pool.handed++;
      next();
    }
  }

  async verify(target: ServerTarget, timeoutMs: number): Promise<{ ok: true } | { ok: false; error: string }> {
    const nodemailer = await loadNodemailer();
    const mailer = nodemailer.createTransport({
      ...transportOptions(target, this.options),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        mailer.verify(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs))),
      ]);
      return { ok: true };
    } catch (err) {
      const e = err as SmtpError;
      return { ok: false, error: (e.response || e.message || String(err)).trim().slice(0, 500) };
    } finally {
      clearTimeout(timer);
      mailer.close();
    }
  }

  prune(keep: ReadonlySet<string>): void {
    for (const [key, pool] of this.pools) {
      if (!keep.has(key)) {
        pool.mailer.close();
        this.pools.delete(key);
      }
    }
  }

  async close(): Promise<void> {
    for (const pool of this.pools.values()) pool.mailer.close();
    this.pools.clear();
  }
}
