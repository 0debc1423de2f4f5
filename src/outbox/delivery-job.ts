/**
 * The delivery job: claims due outbox rows (priority lane first), routes each (routing.ts), sends it
 * through the Transport, and records the batch's outcomes in one transaction (outcomes.ts). Several
 * ticks run at once (`concurrency`) so connections never idle while a batch is recorded.
 *
 * Faults: outcomes that cannot be written (disk full, read-only) are kept in memory and written
 * again on the next tick, and nothing new is claimed meanwhile — the next hop already has those
 * messages, so they must not be sent again. A crash loses nothing: unrecorded rows keep their lease,
 * which start-up releases, so at most the claimed batches are sent twice.
 */
import type { Channel, Message } from "@/db/schema";
import type { Deps } from "@/deps";
import { serverTarget } from "@/features/email_servers/service";
import { isSuppressed } from "@/features/subscribers/eligibility";
import type { Job } from "@/jobs/runner";
import { RenderError } from "@/lib/liquid";
import { compose, forTarget, type Composed } from "./compose";
import { recordOutcomes, type Outcome, type Settled } from "./outcomes";
import { captureTarget, Router } from "./routing";
import { serverKey, targetKey, type SendResult, type Transport } from "./transport";

const MINUTE = 60_000;

export interface DeliveryJobOptions {
  /** Defaults to deps.transport. */
  transport?: Transport;
  /** Messages claimed per tick. */
  batchSize?: number;
  /** Ticks in flight at once (the runner starts this many loops). */
  concurrency?: number;
  leaseMs?: number;
}

export class DeliveryJob implements Job {
  readonly name = "delivery";
  readonly intervalMs = 1000;
  readonly concurrency: number;
  readonly transport: Transport;
  readonly router: Router;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  /** Outcomes whose write failed: written first on the next tick. */
  private unrecorded: Settled[] = [];
  private lastPrune = -Infinity;

  constructor(
    private readonly deps: Deps,
    options: DeliveryJobOptions = {},
  ) {
    this.transport = options.transport ?? deps.transport;
    this.batchSize = options.batchSize ?? 50;
    this.concurrency = options.concurrency ?? 3;
    this.leaseMs = options.leaseMs ?? 5 * MINUTE;
    this.router = new Router(deps);
  }

  /** Releases leases left by a process that stopped mid-send (call once, before the first tick). */
  releaseLeases(): void {
    const released = this.deps.outbox.releaseLeases();
    if (released) this.deps.log.info("delivery.leases_released", { count: released });
  }

  /**
   * Claims up to one batch of due messages, sends them concurrently and records the outcomes.
   * Returns true when it claimed anything: more may be due now (a small channel's bulk slice can
   * leave a batch short while another channel's backlog waits); the tick after the last finds none.
   */
  async tick(now: number): Promise<boolean> {
    if (this.unrecorded.length) {
      const pending = this.unrecorded;
      this.unrecorded = [];
      this.write(pending);
    }
    this.prunePools(now);
    const rows = this.deps.outbox.claim(now, now + this.leaseMs, this.batchSize, this.batchSize);
    if (rows.length === 0) return false;
    this.router.invalidate();
    const settled = await Promise.all(rows.map((m) => this.process(m, now)));
    this.write(settled);
    return true;
  }

  async close(): Promise<void> {
    if (this.unrecorded.length) {
      try {
        recordOutcomes(this.deps, this.unrecorded);
      } catch (err) {
        this.deps.log.error("delivery.outcomes_lost", { count: this.unrecorded.length, error: (err as Error).message });
      }
    }
    await this.transport.close();
  }

  /** Records a batch; when the database refuses, keeps it (and the leases) for the next tick and rethrows. */
  private write(batch: Settled[]): void {
    try {
      recordOutcomes(this.deps, batch);
    } catch (err) {
      this.unrecorded.push(...batch);
      this.deps.log.error("delivery.record_failed", { count: this.unrecorded.length, code: (err as { code?: string }).code, error: (err as Error).message });
      throw err;
    }
  }

  private async process(m: Message, now: number): Promise<Settled> {
    let subject = m.subject;
    let outcome: Outcome;
    try {
      const channel = this.deps.auth.cache.channelById(m.channel_id);
      // Channel deleted: its messages went with it; there is nothing to record.
      if (!channel) return { message: m, subject, outcome: { kind: "gone" } };
      const suppressed = isSuppressed(this.deps.db, m.channel_id, m.recipient_email);
      // Suppressed addresses get nothing (§12), also when the suppression came after the message was queued.
      if (suppressed) outcome = { kind: "failed", reason: "suppressed", response: `suppressed (${suppressed.reason})` };
      // Raw SMTP mail of a capture-only channel may have no sender_email: its From address is the envelope sender then.
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
        outcome ??= await this.deliver(m, channel, composed!, now);
      }
    } catch (err) {
      this.deps.log.error("delivery.message_failed", { message_id: m.id, error: (err as Error).message });
      outcome = { kind: "retry", response: `internal error: ${(err as Error).message}`, keepStatus: true };
    }
    return { message: m, subject, outcome };
  }

  /** Routes and sends: servers in order with failover, or capture when the channel has none for the purpose. */
  private async deliver(m: Message, channel: Channel, composed: Composed, now: number): Promise<Outcome> {
    const route = this.router.route(m, channel, now);
    if (route.kind === "wait") return { kind: "wait", reason: route.reason, until: route.until };
    if (route.kind === "capture") {
      const result = await this.transport.send(forTarget(this.deps, m, composed, route.target, null), route.target);
      // A capture server that refuses the session is a temporary problem (it runs in this process).
      return this.fromResult(result.outcome === "server" ? { ...result, outcome: "temporary" } : result, null, now);
    }
    let failed: { serverId: number; response: string }[] = [];
    for (const server of route.servers) {
      this.router.take(server);
      const target = serverTarget(this.deps, server);
      const result = await this.transport.send(forTarget(this.deps, m, composed, target, server), target);
      this.router.release(server.id, result.outcome === "sent");
      if (result.outcome !== "server") {
        return failed.reduceRight<Outcome>((then, f) => ({ kind: "server_failed", ...f, then }), this.fromResult(result, server.id, now));
      }
      this.deps.log.warn("delivery.server_failed", { message_id: m.id, email_server_id: server.id, error: result.response });
      failed = [...failed, { serverId: server.id, response: result.response }];
    }
    // Every server failed: the message stays queued and retries later.
    const last = failed[failed.length - 1]!;
    return failed.reduceRight<Outcome>((then, f) => ({ kind: "server_failed", ...f, then }), { kind: "retry", response: last.response, keepStatus: true });
  }

  private fromResult(result: SendResult, serverId: number | null, now: number): Outcome {
    switch (result.outcome) {
      case "sent":
        return { kind: "sent", response: result.response, serverId };
      case "permanent":
        return { kind: "bounced", response: result.response, serverId };
      case "throttled":
        // Not the message's fault: it waits for the server's back-off without counting an attempt;
        // the reply is kept on the message and the server (its last_error says why it is slow).
        if (serverId !== null) {
          const until = this.router.throttled(serverId, now);
          this.deps.log.warn("delivery.server_throttled", { email_server_id: serverId, response: result.response, paused_until: new Date(until).toISOString() });
          return { kind: "server_failed", serverId, response: result.response, then: { kind: "wait", reason: "throttled", until, response: result.response } };
        }
        return { kind: "retry", response: result.response };
      default:
        return { kind: "retry", response: result.response };
    }
  }

  /** Once a minute: close the pools of deleted or changed servers. */
  private prunePools(now: number): void {
    if (now - this.lastPrune < MINUTE && now >= this.lastPrune) return;
    this.lastPrune = now;
    const keep = new Set((this.deps.database.raw.prepare("SELECT id, updated_at FROM email_servers").all() as { id: number; updated_at: number }[]).map((s) => serverKey(s.id, s.updated_at)));
    if (this.deps.capturePort) keep.add(targetKey(captureTarget(this.deps.capturePort)));
    this.transport.prune(keep);
  }
}
