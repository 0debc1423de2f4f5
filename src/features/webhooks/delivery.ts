/**
 * The webhook delivery job (docs/api-reference.md §11.2): claims due deliveries, at most 4 in flight per endpoint,
 * attempts each (attempt.ts) and records the outcome — success, a retry on the schedule with ±10 %
 * jitter, exhaustion (one `message.attempt.exhausted` event), or a 410 that disables the endpoint.
 * Each loop of the job takes endpoints no other loop is working on. Outcomes are written together,
 * at most RECORD_GATHER_MS after the first of them and when a tick ends: a commit per attempt
 * (thousands a second) kept the write lock busy and made every API request reload its cached token.
 * A claimed row has no due time until its outcome is written; rows left so by a crash are released
 * when the job starts, so nothing is lost (the attempts of the last few ms are made again).
 */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Database, Db } from "@/db/client";
import { webhook_deliveries, webhook_endpoints, type WebhookDelivery, type WebhookEndpoint } from "@/db/schema";
import type { Deps } from "@/deps";
import { attemptExhaustedEvent, testEvent } from "@/features/events/catalogue";
import type { EventType } from "@/features/events/schemas";
import { appendEvents } from "@/features/events/service";
import type { Job } from "@/jobs/runner";
import { decryptSecret } from "@/lib/secrets";
import { systemLookup, type Lookup } from "@/lib/ssrf";
import { attemptWebhook, type AttemptResult } from "./attempt";
import { webhookBody, webhookDispatchJob } from "./dispatch";
import { addressPolicy } from "./service";

export const PER_ENDPOINT_CONCURRENCY = 4;
/** Deliveries claimed per endpoint and tick. */
const CLAIM_LIMIT = 50;
/** Longest wait of an outcome for the transaction it is written in (default). */
const RECORD_GATHER_MS = 10;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Wait before retry n (1-based); every later retry waits 24 h. */
export const RETRY_SCHEDULE = [30_000, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR];
export const retryDelay = (retry: number, random: () => number = Math.random) =>
  Math.round(RETRY_SCHEDULE[Math.min(retry, RETRY_SCHEDULE.length) - 1] * (0.9 + 0.2 * random()));

type Claimed = { delivery: WebhookDelivery; endpoint: WebhookEndpoint };
type Attempted = Claimed & { result: AttemptResult; at: number };

/** The statements of every attempt, prepared once per connection. */
function prepare(database: Database) {
  const raw = database.raw;
  return {
    // One endpoint's due rows, oldest first, by the (endpoint_id, next_attempt_at) index: a loop never
    // reads the backlog of an endpoint another loop is working on.
    claim: raw.prepare(
      "UPDATE webhook_deliveries SET next_attempt_at = NULL WHERE id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?1 AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3) RETURNING *",
    ),
    succeeded: raw.prepare(
      "UPDATE webhook_deliveries SET status = 'succeeded', attempts = ?2, response_status = ?3, response_body_excerpt = ?4, duration_ms = ?5, error = NULL, last_attempt_at = ?6, delivered_at = ?6, next_attempt_at = NULL WHERE id = ?1",
    ),
    endpointSeen: raw.prepare("UPDATE webhook_endpoints SET last_response_code = ?2, last_sent_at = ?3 WHERE id = ?1"),
  };
}
const statements = new WeakMap<Database, ReturnType<typeof prepare>>();
function statementsOf(database: Database) {
  let q = statements.get(database);
  if (!q) statements.set(database, (q = prepare(database)));
  return q;
}

export interface WebhookDeliveryOptions {
  /** DNS at the edge (tests pass a fake). */
  lookup?: Lookup;
  random?: () => number;
  /** Longest wait of an outcome for its transaction; the rest are written when the tick ends. */
  recordGatherMs?: number;
  /** Awaited before each attempt (jobs/api-load.ts: background work yields to a busy API). */
  pace?: () => Promise<void>;
}

export class WebhookDeliveryJob implements Job {
  readonly name = "webhooks.delivery";
  readonly intervalMs = 1000;
  /** Several loops, each working its own endpoints: a slow receiver holds up only its own queue. */
  readonly concurrency = 4;
  private readonly lookup: Lookup;
  private readonly random: () => number;
  private readonly recordGatherMs: number;
  private readonly pace: () => Promise<void>;
  private readonly secrets = new Map<number, string>();
  /** Endpoints a loop is working on now (one loop per endpoint keeps it at PER_ENDPOINT_CONCURRENCY). */
  private readonly busy = new Set<number>();
  /** Outcomes not written yet, and the timer that writes them. */
  private attempted: Attempted[] = [];
  private recordTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly deps: Deps,
    options: WebhookDeliveryOptions = {},
  ) {
    this.lookup = options.lookup ?? systemLookup;
    this.random = options.random ?? Math.random;
    this.recordGatherMs = options.recordGatherMs ?? RECORD_GATHER_MS;
    this.pace = options.pace ?? (async () => {});
    // Claimed by a process that stopped before writing the outcome: due again now.
    deps.db
      .update(webhook_deliveries)
      .set({ next_attempt_at: deps.clock.now() })
      .where(and(isNull(webhook_deliveries.next_attempt_at), inArray(webhook_deliveries.status, ["pending", "failed"])))
      .run();
  }

  async tick(now: number): Promise<boolean> {
    const claimed = this.claim(now);
    const queues = new Map<number, Claimed[]>();
    for (const c of claimed) queues.set(c.endpoint.id, [...(queues.get(c.endpoint.id) ?? []), c]);
    for (const id of queues.keys()) this.busy.add(id);
    // A full batch for an endpoint: more of its deliveries are due.
    const more = [...queues.values()].some((queue) => queue.length === CLAIM_LIMIT);
    const workers = [...queues.values()].flatMap((queue) =>
      Array.from({ length: Math.min(PER_ENDPOINT_CONCURRENCY, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          await this.pace();
          await this.deliver(next);
        }
      }),
    );
    try {
      await Promise.all(workers);
    } finally {
      for (const id of queues.keys()) this.busy.delete(id);
      this.record();
    }
    return more;
  }

  close(): void {
    this.record();
  }

  /** Due deliveries, oldest first, of the endpoints no other loop is working on; their due time is cleared (claimed). */
  private claim(now: number): Claimed[] {
    const q = statementsOf(this.deps.database);
    return this.deps.db.transaction((tx) => {
      const claimed: Claimed[] = [];
      for (const endpoint of tx.select().from(webhook_endpoints).all()) {
        if (this.busy.has(endpoint.id)) continue;
        const rows = q.claim.all(endpoint.id, now, CLAIM_LIMIT) as (Omit<WebhookDelivery, "test"> & { test: number })[];
        for (const r of rows.sort((x, y) => x.id - y.id)) claimed.push({ delivery: { ...r, test: !!r.test }, endpoint });
      }
      return claimed;
    });
  }

  private async deliver({ delivery, endpoint }: Claimed): Promise<void> {
    if (!endpoint.active) {
      this.deps.db.update(webhook_deliveries).set({ status: "cancelled", error: "endpoint_inactive" }).where(eq(webhook_deliveries.id, delivery.id)).run();
      return;
    }
    try {
      const result = await this.attempt(endpoint, delivery, this.deps.clock.now());
      this.attempted.push({ delivery, endpoint, result, at: this.deps.clock.now() });
      this.recordTimer ??= setTimeout(() => this.record(), this.recordGatherMs);
    } catch (err) {
      this.retryLater([{ delivery, endpoint }], err as Error);
    }
  }

  /** Writes the gathered outcomes in one transaction. */
  private record(): void {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = null;
    const batch = this.attempted;
    this.attempted = [];
    if (batch.length === 0) return;
    try {
      this.deps.db.transaction((tx) => {
        for (const a of batch) recordAttempt(this.deps, tx, a.endpoint, a.delivery, a.result, a.at, this.random);
      });
    } catch (err) {
      this.retryLater(batch, err as Error);
    }
  }

  /**
   * Not an answer of the receiver (a secret that cannot be read, a database fault): the rows are due
   * again later instead of staying claimed until a restart.
   */
  private retryLater(rows: readonly Claimed[], err: Error): void {
    const due = this.deps.clock.now() + RETRY_SCHEDULE[0];
    for (const { delivery, endpoint } of rows) {
      this.deps.log.error("webhooks.delivery_failed", { delivery_id: delivery.id, endpoint_id: endpoint.id, error: err.message });
      try {
        this.deps.db.update(webhook_deliveries).set({ next_attempt_at: due }).where(eq(webhook_deliveries.id, delivery.id)).run();
      } catch {
        // The database refuses writes (logged above): the row stays claimed until the next start releases it.
      }
    }
  }

  private attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: number): Promise<AttemptResult> {
    let secret = this.secrets.get(endpoint.id);
    if (!secret) this.secrets.set(endpoint.id, (secret = decryptSecret(this.deps.config.dataDir, endpoint.secret_enc)));
    return attemptDelivery(this.deps, endpoint, secret, delivery, now, this.lookup);
  }
}

/**
 * The dispatcher and the delivery job, which run side by side: in the delivery thread in production
 * (their fetches, signing and writes stay off the API's thread, paced by `pace`), on the main thread
 * when tests step them. `wake` reaches the runner they run in: written deliveries are attempted at once.
 */
export const webhookJobs = (deps: Deps, wake: (job: string) => void, pace?: () => Promise<void>): Job[] => [
  webhookDispatchJob(deps, () => wake("webhooks.delivery"), pace),
  new WebhookDeliveryJob(deps, { pace }),
];

/** One attempt of `delivery` (the job's, and the synchronous `test` route's). */
export function attemptDelivery(deps: Deps, endpoint: WebhookEndpoint, secret: string, d: WebhookDelivery, now: number, lookup: Lookup = systemLookup): Promise<AttemptResult> {
  const request = { url: endpoint.url, secret, body: d.body, eventId: d.event_id, eventType: d.event_type, deliveryId: d.id, attempt: d.attempts + 1, now };
  return attemptWebhook(request, addressPolicy(deps), lookup);
}

/** Writes one attempt's outcome (and what follows from it) inside `tx`. */
export function recordAttempt(deps: Deps, tx: Db, endpoint: WebhookEndpoint, d: WebhookDelivery, r: AttemptResult, now: number, random: () => number): void {
  const attempts = d.attempts + 1;
  const seen = { attempts, response_status: r.status, response_body_excerpt: r.excerpt, duration_ms: r.durationMs, error: r.error, last_attempt_at: now };
  const set = (values: Partial<WebhookDelivery>) => void tx.update(webhook_deliveries).set({ ...seen, ...values }).where(eq(webhook_deliveries.id, d.id)).run();
  const q = statementsOf(deps.database);
  if (r.status !== null) q.endpointSeen.run(endpoint.id, r.status, now);
  if (r.ok) return void q.succeeded.run(d.id, attempts, r.status, r.excerpt, r.durationMs, now);
  if (d.test) return set({ status: "failed", next_attempt_at: null });
  if (r.status === 410) {
    // Gone: the receiver asks for no more; the endpoint is disabled and its queue cancelled.
    set({ status: "cancelled", next_attempt_at: null });
    tx.update(webhook_endpoints).set({ active: false, updated_at: now }).where(eq(webhook_endpoints.id, endpoint.id)).run();
    tx.update(webhook_deliveries).set({ status: "cancelled", next_attempt_at: null }).where(and(eq(webhook_deliveries.endpoint_id, endpoint.id), inArray(webhook_deliveries.status, ["pending", "failed"]), sql`${webhook_deliveries.next_attempt_at} IS NOT NULL`)).run();
    return;
  }
  if (attempts <= endpoint.retries_to_attempt) return set({ status: "failed", next_attempt_at: now + retryDelay(attempts, random) });
  set({ status: "exhausted", next_attempt_at: null });
  // Exhaustion of an exhaustion event never emits another (§11.2).
  if (d.event_type === "message.attempt.exhausted") return;
  const data = { channel: deps.auth.cache.slugOf(endpoint.channel_id) ?? "", webhook_endpoint_id: endpoint.id, delivery_id: d.id, event_id: d.event_id ?? 0, event_type: d.event_type, attempts, last_response_status: r.status, last_error: r.error };
  appendEvents(tx, deps.clock, [attemptExhaustedEvent(endpoint.channel_id, data)]);
}

/** POST /webhook_endpoints/:id/test: one synchronous attempt (also to an inactive endpoint), logged with `test: true`. */
export async function sendTest(deps: Deps, endpoint: WebhookEndpoint, type: EventType): Promise<{ delivery: WebhookDelivery; result: AttemptResult }> {
  const { data } = testEvent(type, endpoint.channel_id, deps.auth.cache.slugOf(endpoint.channel_id) ?? "", endpoint.id);
  const now = deps.clock.now();
  const delivery = deps.db.transaction((tx) => {
    const row = tx.insert(webhook_deliveries).values({ endpoint_id: endpoint.id, event_id: null, event_type: type, body: "", status: "pending", test: true, created_at: now }).returning().get();
    // A test has no event: its payload id is the delivery's.
    const body = webhookBody({ id: row.id, type, created_at: now, occurred_at: now }, JSON.stringify(data));
    tx.update(webhook_deliveries).set({ body }).where(eq(webhook_deliveries.id, row.id)).run();
    return { ...row, body };
  });
  const result = await attemptDelivery(deps, endpoint, decryptSecret(deps.config.dataDir, endpoint.secret_enc), delivery, now);
  deps.db.transaction((tx) => recordAttempt(deps, tx, endpoint, delivery, result, deps.clock.now(), Math.random));
  return { delivery, result };
}
