/**
 * What services receive. Built once by the composition root (main.ts) or the test harness.
 */
import type { Authenticator } from "@/auth/authenticator";
import type { Config } from "@/config";
import type { Database, Db } from "@/db/client";
import type { GroupCommit } from "@/db/group-commit";
import type { Logger } from "@/lib/log";
import type { Metrics } from "@/metrics/metrics";
import type { References } from "@/lib/references";
import type { Clock } from "@/lib/time";
import type { Outbox } from "@/outbox/outbox";
import type { Transport } from "@/outbox/transport";
import type { SubscriberHooks } from "@/features/subscribers/hooks";
import type { SnsEdge } from "@/features/provider_hooks/sns";

export interface Deps {
  config: Readonly<Config>;
  database: Database;
  db: Db;
  log: Logger;
  clock: Clock;
  auth: Authenticator;
  /** Shared commits for concurrent writes on hot paths (sends): see db/group-commit.ts. */
  commits: GroupCommit;
  /** The durable outbox: enqueue, claim, wake (`outbox.notify()` after a commit that queued mail). */
  outbox: Outbox;
  /** Outbound SMTP (pooled per email server); the delivery job and test_connection use it. */
  transport: Transport;
  /** Prometheus counters and gauges of this instance (GET /metrics). */
  metrics: Metrics;
  /** Who references templates and segments (the "in use by" check before a delete), wired in boot.ts. */
  references: References<Db>;
  /** What other features do when a subscriber changes (sequences: init_tag, pause/resume), wired in boot.ts. */
  subscriberHooks: SubscriberHooks;
  /**
   * Port of the running local capture SMTP server (§18), set by the capture component once it
   * listens (MAILROOM_CAPTURE_PORT may be 0 = ephemeral); undefined = not running, capture mail waits.
   */
  capturePort?: number;
  /** Where SNS signing certificates may come from and how they are fetched (AWS by default; tests serve their own). */
  snsEdge?: SnsEdge;
}
