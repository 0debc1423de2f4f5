/**
 * Sends claimed messages: renders each (Liquid, per recipient), routes it (routing.ts: servers with
 * failover and limits, or local capture) and hands it to the Transport; returns one outcome per
 * message. Reads the database but never writes it: the delivery job records the outcomes, so the
 * sender can run in the delivery thread while every write stays on one connection.
 */
import type { Channel, Message, Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import type { Pacer } from "@/jobs/api-load";
import { serverTarget } from "@/features/email_servers/target";
import { isSuppressed, type SuppressionHit } from "@/features/subscribers/eligibility";
import { RenderError } from "@/lib/liquid";
import { compose, forTarget, recipientOf, type Composed } from "./compose";
import type { Outcome } from "./outcomes";
import { captureTarget, Router } from "./routing";
import { serverKey, targetKey, type SendResult, type Transport } from "./transport";

const MINUTE = 60_000;

/** What the delivery job needs from a sender (this class, or the delivery thread speaking for one). */
export interface Sender {
  /** One outcome per message, in order; `subject` is the rendered subject (for event payloads). */
  deliver(messages: readonly Message[], now: number): Promise<SentResult[]>;
  close(): Promise<void>;
}

export interface SentResult {
  id: number;
  outcome: Outcome;
  subject: string | null;
}

/** What a message's send needs from the database, read with the rest of its batch (or why that failed). */
type Prefetched = { suppressed: SuppressionHit | null; subscriber: Subscriber | undefined } | Error;

export class MessageSender implements Sender {
  readonly router: Router;
  private lastPrune = -Infinity;

  /** `pacer` (the delivery thread's): bulk mail yields to a busy API; the priority lane never waits. */
  constructor(
    private readonly deps: Deps,
    readonly transport: Transport = deps.transport,
    private readonly pacer?: Pacer,
  ) {
    this.router = new Router(deps);
  }

  async deliver(messages: readonly Message[], now: number): Promise<SentResult[]> {
    this.prunePools(now);
    this.router.invalidate();
    const found = this.prefetch(messages);
    return Promise.all(
      messages.map((m, i) => {
        const run = () => this.process(m, found[i]!, now);
        // The pacer lets bulk messages go one at a time within its share while the API is busy.
        return m.lane === "bulk" && this.pacer ? this.pacer.yield().then(run) : run();
      }),
    );
  }

  /**
   * The batch's suppression checks and recipients in one read (deferred) transaction: a read outside
   * a transaction opens its own, ~5–30 µs each while the main thread writes, twice a message.
   */
  private prefetch(messages: readonly Message[]): Prefetched[] {
    try {
      return this.deps.db.transaction(
        (tx) => messages.map((m) => ({ suppressed: isSuppressed(tx, m.channel_id, m.recipient_email), subscriber: recipientOf(tx, m) })),
        { behavior: "deferred" },
      );
    } catch (err) {
      return messages.map(() => err as Error);
    }
  }


  close(): Promise<void> {
    return this.transport.close();
  }

  private async process(m: Message, found: Prefetched, now: number): Promise<SentResult> {
    let subject = m.subject;
    let outcome: Outcome;
    try {
      const channel = this.deps.auth.cache.channelById(m.channel_id);
      // Channel deleted: its messages went with it; there is nothing to record.
      if (!channel) return { id: m.id, subject, outcome: { kind: "gone" } };
      if (found instanceof Error) throw found;
      const { suppressed, subscriber } = found;
      // Suppressed addresses get nothing (§12), also when the suppression came after the message was queued.
      if (suppressed) outcome = { kind: "failed", reason: "suppressed", response: `suppressed (${suppressed.reason})` };
      // Raw SMTP mail of a capture-only channel may have no sender_email: its From address is the envelope sender then.
      else if (!channel.sender_email && !(m.from_email && (m.raw_mime || m.raw_of))) outcome = { kind: "failed", reason: "sender_missing", response: null };
      else {
        // Mail that has to wait is not rendered for nothing (send() routes again after rendering:
        // budgets are taken there, in the order messages become ready).
        const route = this.router.route(m, channel, now);
        if (route.kind === "wait") outcome = { kind: "wait", reason: route.reason, until: route.until };
        else {
          let composed: Composed | null = null;
          try {
            composed = await compose(this.deps, m, channel, subscriber);
            subject = composed.subject;
          } catch (err) {
            if (!(err instanceof RenderError)) throw err;
            outcome = { kind: "failed", reason: "render_error", response: err.message };
          }
          outcome ??= await this.send(m, channel, composed!, now);
        }
      }
    } catch (err) {
      this.deps.log.error("delivery.message_failed", { message_id: m.id, error: (err as Error).message });
      outcome = { kind: "retry", response: `internal error: ${(err as Error).message}`, keepStatus: true };
    }
    return { id: m.id, subject, outcome };
  }

  /** Routes and sends: servers in order with failover, or capture when the channel has none for the purpose. */
  private async send(m: Message, channel: Channel, composed: Composed, now: number): Promise<Outcome> {
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
