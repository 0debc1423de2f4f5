/**
 * The instance's Prometheus metrics (prom-client), one registry per instance so several can run in
 * one process (tests). Counts happen where they are decided: the HTTP edge, the authenticator, the
 * outcome writer, the job runner. The outbox depth is read from the database at scrape time.
 */
import { Counter, Gauge, Registry } from "prom-client";
import type { Database, RawStatement } from "@/db/client";
import type { Clock } from "@/lib/time";
import { JobMetrics } from "./jobs";

/** Why an authentication failed (label `reason` of mailroom_auth_failures_total). */
export type AuthFailureReason = "missing" | "malformed" | "invalid" | "expired" | "ip_not_allowed" | "api_key_param" | "metrics_token";
const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = ["missing", "malformed", "invalid", "expired", "ip_not_allowed", "api_key_param", "metrics_token"];

/** Which limit refused a request: the token buckets (§1.7), or failed authentications per IP. */
export type RateLimitBucket = "general" | "send" | "failed_auth";
const RATE_LIMIT_BUCKETS: readonly RateLimitBucket[] = ["general", "send", "failed_auth"];

/** Methods counted by name; anything else is `other` (a client may send any token as a method). */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"] as const;
const METHOD_INDEX = new Map<string, number>(METHODS.map((m, i) => [m, i]));
const OTHER_METHOD = METHODS.length - 1;

/**
 * The outbox depth, read through the claim and lease indexes (schema.ts), which hold exactly the
 * messages still to deliver: `due` (claimable now) and `scheduled` (a retry, a later send, a wait
 * for a route), then `in_flight` (leased by the delivery job). A GROUP BY over `status` would scan
 * the whole table (~0.5 s per 100k stored messages), and an index for it would cost every enqueue
 * and every outcome a write (~2–3 µs a row).
 */
export const OUTBOX_DEPTH_SQL = {
  waiting:
    "SELECT lane, sum(next_attempt_at <= ?1) AS due, sum(next_attempt_at > ?1) AS scheduled FROM messages WHERE next_attempt_at IS NOT NULL AND lease_expires_at IS NULL GROUP BY lane",
  inFlight: "SELECT lane, count(*) AS in_flight FROM messages WHERE lease_expires_at IS NOT NULL GROUP BY lane",
};
const OUTBOX_STATES = ["due", "scheduled", "in_flight"] as const;
const LANES = ["priority", "bulk"] as const;

export class Metrics {
  readonly registry = new Registry();
  readonly jobs: JobMetrics;
  /**
   * Requests per route template → (status × methods + method) → count. Plain numbers on the hot
   * path (~16 ns a request); prom-client's `inc`, even on a `labels()` child, hashes the label set
   * on every call (~190 ns), so the counter is filled from these at scrape time.
   */
  private readonly requests = new Map<string, Map<number, number>>();
  private readonly authFailures;
  private readonly rateLimitRejections;
  private readonly deliveries;

  constructor(database: Database, clock: Clock) {
    const registers = [this.registry];
    const requests = this.requests;
    new Counter({
      name: "mailroom_http_requests_total",
      help: "HTTP requests answered, by method, route template (`unmatched` when no route matched) and status.",
      labelNames: ["method", "route", "status"] as const,
      registers,
      collect() {
        this.reset();
        for (const [route, counts] of requests) {
          for (const [key, n] of counts) {
            this.inc({ method: METHODS[key % METHODS.length], route, status: String(Math.floor(key / METHODS.length)) }, n);
          }
        }
      },
    });
    this.authFailures = new Counter({
      name: "mailroom_auth_failures_total",
      help: "Failed authentications (API tokens over HTTP and SMTP AUTH, the metrics token), by reason.",
      labelNames: ["reason"] as const,
      registers,
    });
    for (const reason of AUTH_FAILURE_REASONS) this.authFailures.inc({ reason }, 0);
    this.rateLimitRejections = new Counter({
      name: "mailroom_rate_limit_rejections_total",
      help: "Requests refused with 429, by bucket (general, send, failed_auth = too many failed authentications from one IP).",
      labelNames: ["bucket"] as const,
      registers,
    });
    for (const bucket of RATE_LIMIT_BUCKETS) this.rateLimitRejections.inc({ bucket }, 0);
    this.deliveries = new Counter({
      name: "mailroom_deliveries_total",
      help: "Delivery outcomes recorded (sent, bounced, retry, failed, wait, server_failed = a server failed before failover), by email server id (capture = local capture, none = no server).",
      labelNames: ["outcome", "server"] as const,
      registers,
    });
    let depth: { waiting: RawStatement; inFlight: RawStatement } | null = null;
    new Gauge({
      name: "mailroom_outbox_messages",
      help: "Messages still to deliver, by lane and state: due (claimable now), scheduled (retry, later send, waiting for a route), in_flight (being delivered).",
      labelNames: ["lane", "state"] as const,
      registers,
      collect() {
        // Prepared on first scrape: the delivery thread builds deps too and never scrapes.
        depth ??= { waiting: database.raw.prepare(OUTBOX_DEPTH_SQL.waiting), inFlight: database.raw.prepare(OUTBOX_DEPTH_SQL.inFlight) };
        this.reset();
        for (const lane of LANES) for (const state of OUTBOX_STATES) this.set({ lane, state }, 0);
        for (const row of depth.waiting.all(clock.now()) as { lane: string; due: number; scheduled: number }[]) {
          this.set({ lane: row.lane, state: "due" }, row.due);
          this.set({ lane: row.lane, state: "scheduled" }, row.scheduled);
        }
        for (const row of depth.inFlight.all() as { lane: string; in_flight: number }[]) this.set({ lane: row.lane, state: "in_flight" }, row.in_flight);
      },
    });
    this.jobs = new JobMetrics(this.registry, clock);
  }

  /** Counts one answered request; `route` is the matched route template (a bounded set of strings). */
  request(method: string, route: string, status: number): void {
    let counts = this.requests.get(route);
    if (!counts) this.requests.set(route, (counts = new Map()));
    const key = status * METHODS.length + (METHOD_INDEX.get(method) ?? OTHER_METHOD);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  authFailed(reason: AuthFailureReason): void {
    this.authFailures.inc({ reason });
  }

  rateLimited(bucket: RateLimitBucket): void {
    this.rateLimitRejections.inc({ bucket });
  }

  /** Counts a recorded outcome; call after its transaction committed. */
  delivered(outcome: string, server: string): void {
    this.deliveries.inc({ outcome, server });
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
