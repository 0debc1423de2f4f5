/**
 * The send worker: claims due outbox rows with a lease (one transaction), routes each to an email
 * server (§9: purpose flags, active, priority then id, emails_per_hour; failover on server
 * problems) or to local capture (§18), sends through the Transport, and records the outcome with
 * its events in one transaction per message. A crash loses nothing: unrecorded rows keep their
 * lease, which start-up clears, so at most the claimed batch is sent twice.
 */
import { and, count, eq, gt, sql } from "drizzle-orm";
import { email_servers, messages, subscribers, type Channel, type EmailServer, type Message } from "@/db/schema";
import type { Deps } from "@/deps";
import { serverTarget, serversForPurpose, markServerFailed, markServerHealthy } from "@/features/email_servers/service";
import type { Purpose } from "@/features/email_servers/model";
import { appendEvents, type EventType } from "@/features/events/service";
import { isSuppressed, recordHardBounce } from "@/features/subscribers/eligibility";
import { pruneExpiredSessions } from "@/admin/session";
import { pruneAuditLog } from "@/features/audit_log/service";
import { pruneEvents } from "@/features/events/service";
import { pruneIdempotencyKeys } from "@/features/transactionals/idempotency";
import { normalizeEmail } from "@/lib/email";
import { RenderError } from "@/lib/liquid";
import { compose, forTarget, type Composed } from "./compose";
import { serverKey, targetKey, type CaptureTarget, type SendResult, type Transport } from "./transport";

const MINUTE = 60_000;
/** Rows deleted per table per housekeeping run (a minute apart). */
const RETENTION_BATCH = 10_000;
const HOUR = 60 * MINUTE;
/** Retry delays after the 1st, 2nd, … temporary failure; then every 6 h (§9). */
export const RETRY_DELAYS = [1 * MINUTE, 5 * MINUTE, 15 * MINUTE, 1 * HOUR, 3 * HOUR, 6 * HOUR];
/** Temporary failures turn into `failed` this long after the message was queued. */
export const RETRY_WINDOW = 72 * HOUR;
/** How long a queued message waits when no server can take it now (inactive, at emails_per_hour, capture down). */
const WAIT_NO_ROUTE = MINUTE;

export interface SendWorkerOptions {
  /** Defaults to deps.transport. */
  transport?: Transport;
  /** Messages claimed per tick (also the duplicate bound after a crash). */
  batchSize?: number;
  leaseMs?: number;
  /** Idle poll interval when nothing wakes the worker. */
  idleMs?: number;
}

const PURPOSE: Record<Message["kind"], Purpose> = { transactional: "transactionals", system: "transactionals", broadcast: "broadcasts", sequence: "sequences" };

export const retryDelay = (attempts: number) => RETRY_DELAYS[Math.min(attempts, RETRY_DELAYS.length) - 1] ?? RETRY_DELAYS[0];

type Outcome =
  | { kind: "sent"; response: string; serverId: number | null }
  | { kind: "bounced"; response: string; serverId: number | null }
  /** `keepStatus`: the message itself was not refused (servers down, internal error) — it stays `queued`, no event. */
  | { kind: "retry"; response: string; keepStatus?: boolean }
  | { kind: "failed"; reason: string; response: string | null }
  /** No route now: stays queued without counting an attempt. */
  | { kind: "wait"; until: number; reason: string };

export class SendWorker {
  readonly transport: Transport;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly idleMs: number;
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private lastHousekeeping = 0;
  private readonly claimStmt;
  private readonly sentLastHour;

  constructor(
    private readonly deps: Deps,
    options: SendWorkerOptions = {},
  ) {
    this.transport = options.transport ?? deps.transport;
    this.batchSize = options.batchSize ?? 100;
    this.leaseMs = options.leaseMs ?? 5 * MINUTE;
    this.idleMs = options.idleMs ?? 1000;
    this.claimStmt = deps.database.raw.prepare(
      `UPDATE messages SET lease_expires_at = ?1 WHERE id IN (
         SELECT id FROM messages WHERE status IN ('queued', 'sending') AND next_attempt_at <= ?2
           AND (lease_expires_at IS NULL OR lease_expires_at < ?2)
         ORDER BY next_attempt_at, id LIMIT ?3) RETURNING id`,
    );
    this.sentLastHour = deps.db
      .select({ n: count() })
      .from(messages)
      .where(and(eq(messages.email_server_id, sql.placeholder("server")), gt(messages.sent_at, sql.placeholder("since"))))
      .prepare();
  }

  /** Clears leases left by a crashed process (this process is the only sender), then loops. */
  start(): void {
    if (this.running) return;
    const cleared = this.deps.database.raw.prepare("UPDATE messages SET lease_expires_at = NULL WHERE lease_expires_at IS NOT NULL").run();
    if (cleared.changes) this.deps.log.info("worker.leases_reclaimed", { count: cleared.changes });
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops the loop after the tick in flight (bounded by the shutdown timeout) and closes pooled connections. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    const limit = this.deps.config.shutdownTimeoutMs;
    await Promise.race([this.loopDone, Bun.sleep(limit)]);
    await this.transport.close();
  }

  /** Wakes an idle loop (called through deps.notifyOutbox after a commit). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let n = 0;
      try {
        n = await this.tick();
        this.housekeeping();
      } catch (err) {
        this.deps.log.error("worker.tick_failed", { error: (err as Error).message, stack: (err as Error).stack });
      }
      if (!this.running) break;
      if (n === 0 && !this.woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.idleMs);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeUp = null;
      }
      this.woken = false;
    }
  }

  /**
   * Once a minute: drop expired idempotency results, dashboard sessions, audit rows past 365 days and
   * events past MAILROOM_EVENT_RETENTION_DAYS (in bounded batches, so a large backlog never holds the
   * write lock for long), and the pools of deleted or changed servers.
   */
  private housekeeping(): void {
    const { db, config } = this.deps;
    const now = this.deps.clock.now();
    if (now - this.lastHousekeeping < MINUTE) return;
    this.lastHousekeeping = now;
    pruneIdempotencyKeys(db, now);
    pruneExpiredSessions(db, now);
    pruneAuditLog(db, now, RETENTION_BATCH);
    pruneEvents(db, now, config.eventRetentionDays, RETENTION_BATCH);
    const keep = new Set(this.deps.db.select({ id: email_servers.id, v: email_servers.updated_at }).from(email_servers).all().map((s) => serverKey(s.id, s.v)));
    if (this.deps.capturePort) keep.add(targetKey(captureTarget(this.deps.capturePort)));
    this.transport.prune(keep);
  }

  /** Claims up to one batch of due messages, sends them concurrently and records each outcome. Returns how many were processed. */
  async tick(): Promise<number> {
    const now = this.deps.clock.now();
    const rows = this.claim(now);
    if (rows.length === 0) return 0;
    const routing = new RoutingState(this.deps, this.sentLastHour, now);
    await Promise.all(rows.map((m) => this.process(m, routing)));
    return rows.length;
  }

  private claim(now: number): Message[] {
    return this.deps.db.transaction((tx) => {
      const ids = (this.claimStmt.all(now + this.leaseMs, now, this.batchSize) as { id: number }[]).map((r) => r.id);
      if (ids.length === 0) return [];
      return tx.select().from(messages).where(sql`${messages.id} IN (${sql.join(ids.map((id) => sql`${id}`), sql`, `)})`).all();
    });
  }

  private async process(m: Message, routing: RoutingState): Promise<void> {
    let outcome: Outcome;
    let subject = m.subject;
    try {
      const channel = this.deps.auth.cache.channelById(m.channel_id);
      if (!channel) return; // channel deleted: its messages are gone with it
      // Raw SMTP mail of a capture-only channel may have no sender_email: its From address is the envelope sender then.
      const suppressed = isSuppressed(this.deps.db, m.channel_id, m.recipient_email);
      // Suppressed addresses get nothing (§12), also when the suppression came after the message was queued.
      if (suppressed) outcome = { kind: "failed", reason: "suppressed", response: `suppressed (${suppressed.reason})` };
      else if (!channel.sender_email && !(m.from_email && (m.raw_mime || m.raw_of))) outcome = { kind: "failed", reason: "sender_missing", response: null };
      else {
        let composed: Composed | null = null;
        try {
          composed = await compose(this.deps, m, channel);
          subject = composed.subject;
        } catch (err) {
          if (!(err instanceof RenderError)) throw err;
          outcome = { kind: "failed", reason: "render_error", response: err.message };
        }
        outcome ??= await this.deliver(m, channel, composed!, routing);
      }
    } catch (err) {
      this.deps.log.error("worker.message_failed", { message_id: m.id, error: (err as Error).message });
      outcome = { kind: "retry", response: `internal error: ${(err as Error).message}`, keepStatus: true };
    }
    this.record(m, outcome, subject);
  }

  /** Routes and sends: servers in order with failover, or capture when the channel has none for the purpose. */
  private async deliver(m: Message, channel: Channel, composed: Composed, routing: RoutingState): Promise<Outcome> {
    const route = routing.route(m, channel);
    if (route.kind === "capture") {
      if (!route.target) return { kind: "wait", until: routing.now + WAIT_NO_ROUTE, reason: "capture_unavailable" };
      const result = await this.transport.send(forTarget(this.deps, m, composed, route.target, null), route.target);
      // A capture server that refuses the session is a temporary problem (it runs in this process).
      return this.fromResult(result.outcome === "server" ? { ...result, outcome: "temporary" } : result, null);
    }
    if (route.servers.length === 0) return { kind: "wait", until: routing.now + WAIT_NO_ROUTE, reason: route.reason };
    let last: SendResult | null = null;
    for (const server of route.servers) {
      if (!routing.take(server)) continue;
      const target = serverTarget(this.deps, server);
      const result = await this.transport.send(forTarget(this.deps, m, composed, target, server), target);
      if (result.outcome !== "server") return this.fromResult(result, server.id);
      routing.release(server);
      markServerFailed(this.deps.db, server.id, result.response, this.deps.clock.now());
      this.deps.log.warn("worker.server_failed", { message_id: m.id, email_server_id: server.id, error: result.response });
      last = result;
    }
    // Every server failed (or is at its hourly limit): the message stays queued and retries later.
    return last ? { kind: "retry", response: last.response, keepStatus: true } : { kind: "wait", until: routing.now + WAIT_NO_ROUTE, reason: "rate_limited" };
  }

  private fromResult(result: SendResult, serverId: number | null): Outcome {
    switch (result.outcome) {
      case "sent":
        return { kind: "sent", response: result.response, serverId };
      case "permanent":
        return { kind: "bounced", response: result.response, serverId };
      default:
        return { kind: "retry", response: result.response };
    }
  }

  /** Writes the outcome and its events in one transaction; the lease is released. */
  private record(m: Message, outcome: Outcome, subject: string | null): void {
    const deps = this.deps;
    const now = deps.clock.now();
    const slug = deps.auth.cache.slugOf(m.channel_id);
    const data = {
      channel: slug,
      message_id: m.message_id,
      transactional_id: m.kind === "transactional" ? m.id : null,
      broadcast_id: m.broadcast_id,
      sequence_id: null,
      sequence_step_id: m.sequence_step_id,
      subscriber_id: m.subscriber_id,
      recipient_email: m.recipient_email,
      subject,
    };
    const event = (type: EventType, extra: Record<string, unknown> = {}) => ({
      type,
      channelId: m.channel_id,
      data: { ...data, ...extra },
      subscriberId: m.subscriber_id,
      // Stored form, like every other event writer (redaction finds a subscriber's events by it).
      email: normalizeEmail(m.recipient_email),
      broadcastId: m.broadcast_id,
      transactionalId: data.transactional_id,
    });
    deps.db.transaction((tx) => {
      const base = { lease_expires_at: null, updated_at: now };
      switch (outcome.kind) {
        case "sent":
          tx.update(messages)
            .set({ ...base, status: "sent", sent_at: now, attempts: m.attempts + 1, email_server_id: outcome.serverId, smtp_response: outcome.response, next_attempt_at: null })
            .where(eq(messages.id, m.id))
            .run();
          if (outcome.serverId !== null) markServerHealthy(tx, outcome.serverId);
          if (m.subscriber_id) {
            tx.update(subscribers)
              .set({ last_email_sent_at: now, total_emails_sent: sql`${subscribers.total_emails_sent} + 1` })
              .where(eq(subscribers.id, m.subscriber_id))
              .run();
          }
          appendEvents(tx, deps.clock, [event("email.sent", { smtp_response: outcome.response }), event("email.delivered", { smtp_response: outcome.response })]);
          break;
        case "bounced":
          tx.update(messages)
            .set({ ...base, status: "bounced", failed_at: now, attempts: m.attempts + 1, email_server_id: outcome.serverId, failure_reason: "hard_bounce", smtp_response: outcome.response, next_attempt_at: null })
            .where(eq(messages.id, m.id))
            .run();
          recordHardBounce(deps, m.channel_id, m.recipient_email, tx);
          appendEvents(tx, deps.clock, [event("email.bounced", { smtp_response: outcome.response, bounce_type: "hard" })]);
          break;
        case "retry": {
          const attempts = m.attempts + 1;
          const deadline = m.queue_at + RETRY_WINDOW;
          if (now >= deadline) {
            tx.update(messages)
              .set({ ...base, status: "failed", failed_at: now, attempts, failure_reason: "retries_exhausted", smtp_response: outcome.response, next_attempt_at: null })
              .where(eq(messages.id, m.id))
              .run();
            appendEvents(tx, deps.clock, [event("email.failed", { failure_reason: "retries_exhausted", smtp_response: outcome.response })]);
            break;
          }
          const next = Math.min(now + retryDelay(attempts), deadline);
          // A refused message is `sending` (retry pending); when every server failed it stays `queued` (§9).
          tx.update(messages)
            .set({ ...base, status: outcome.keepStatus ? m.status : "sending", attempts, next_attempt_at: next, smtp_response: outcome.response })
            .where(eq(messages.id, m.id))
            .run();
          if (!outcome.keepStatus) {
            appendEvents(tx, deps.clock, [event("email.delivery_delayed", { smtp_response: outcome.response, next_attempt_at: new Date(next).toISOString() })]);
          }
          break;
        }
        case "failed":
          tx.update(messages)
            .set({ ...base, status: "failed", failed_at: now, failure_reason: outcome.reason, smtp_response: outcome.response, next_attempt_at: null })
            .where(eq(messages.id, m.id))
            .run();
          appendEvents(tx, deps.clock, [event("email.failed", { failure_reason: outcome.reason })]);
          break;
        case "wait": {
          if (now >= m.queue_at + RETRY_WINDOW) {
            tx.update(messages)
              .set({ ...base, status: "failed", failed_at: now, failure_reason: outcome.reason, next_attempt_at: null })
              .where(eq(messages.id, m.id))
              .run();
            appendEvents(tx, deps.clock, [event("email.failed", { failure_reason: outcome.reason })]);
          } else {
            tx.update(messages).set({ ...base, next_attempt_at: outcome.until }).where(eq(messages.id, m.id)).run();
          }
          break;
        }
      }
    });
  }
}

const captureTarget = (port: number): CaptureTarget => ({ kind: "capture", host: "127.0.0.1", port });

type Route = { kind: "capture"; target: CaptureTarget | null } | { kind: "servers"; servers: EmailServer[]; reason: string };

/** Per-tick routing view: servers per channel and purpose, and emails_per_hour budgets. */
class RoutingState {
  private servers = new Map<string, EmailServer[]>();
  private used = new Map<number, number>();

  constructor(
    private readonly deps: Deps,
    private readonly sentLastHour: { get(params: { server: number; since: number }): { n: number } | undefined },
    readonly now: number,
  ) {}

  route(m: Message, channel: Channel): Route {
    const { config } = this.deps;
    const capture: Route = {
      kind: "capture",
      target: config.capture && this.deps.capturePort ? captureTarget(this.deps.capturePort) : null,
    };
    if (config.captureAll) return capture;
    const purpose = PURPOSE[m.kind];
    const key = `${channel.id}:${purpose}`;
    let all = this.servers.get(key);
    if (!all) this.servers.set(key, (all = serversForPurpose(this.deps.db, channel.id, purpose)));
    // Capture only when the channel has no server for the purpose at all (§9); failing servers keep mail queued.
    if (all.length === 0) return capture;
    let candidates = all;
    if (m.server_ids?.length) {
      const narrowed = all.filter((s) => m.server_ids!.includes(s.id));
      if (narrowed.length) candidates = narrowed;
    }
    const active = candidates.filter((s) => s.active);
    return { kind: "servers", servers: active, reason: active.length ? "rate_limited" : "no_active_server" };
  }

  /** Reserves one message of the server's hourly budget. */
  take(server: EmailServer): boolean {
    if (server.emails_per_hour === null) return true;
    let used = this.used.get(server.id);
    if (used === undefined) used = this.sentLastHour.get({ server: server.id, since: this.now - HOUR })?.n ?? 0;
    if (used >= server.emails_per_hour) {
      this.used.set(server.id, used);
      return false;
    }
    this.used.set(server.id, used + 1);
    return true;
  }

  release(server: EmailServer): void {
    const used = this.used.get(server.id);
    if (used !== undefined) this.used.set(server.id, used - 1);
  }
}
