/**
 * Webhook endpoints (docs/api-reference.md §11): channel-owned, ≤ 20 per channel, URL checked at create and
 * immutable, secret generated once (`whsec_` + 32 base62) and stored encrypted. Deleting one
 * cancels its pending deliveries; the log of finished ones goes with it.
 */
import { and, count, eq, inArray, sql } from "drizzle-orm";
import { assertInScope, requireSomeChannel, type Scope } from "@/auth/scope";
import { webhook_deliveries, webhook_endpoints, type Channel, type WebhookEndpoint } from "@/db/schema";
import type { Deps } from "@/deps";
import type { FieldValues } from "@/input/fields";
import { changes, type Db } from "@/db/client";
import { notFound, unprocessable, validationError } from "@/lib/errors";
import { retentionJob } from "@/jobs/retention";
import { encryptSecret } from "@/lib/secrets";
import { randomBase62 } from "@/lib/tokens";
import { addressPolicyOf, urlProblem, type AddressPolicy } from "@/lib/ssrf";
import { MAX_ENDPOINTS_PER_CHANNEL, type DELIVERY_STATUSES, type WebhookFields } from "./model";

export type WebhookValues = FieldValues<typeof WebhookFields>;
export type WebhookChanges = FieldValues<typeof WebhookFields, true>;

export const addressPolicy = (deps: Deps): AddressPolicy => addressPolicyOf(deps.config);

export function listEndpoints(deps: Deps, scope: Scope, limit: number, offset: number) {
  requireSomeChannel(scope);
  const where = inArray(webhook_endpoints.channel_id, [...scope.channelIds]);
  const rows = deps.db.select().from(webhook_endpoints).where(where).orderBy(webhook_endpoints.id).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(webhook_endpoints).where(where).get()!.n;
  return { rows, total };
}

export function getEndpoint(deps: Deps, scope: Scope, id: number): WebhookEndpoint {
  const row = deps.db.select().from(webhook_endpoints).where(eq(webhook_endpoints.id, id)).get();
  if (!row) throw notFound("Webhook endpoint");
  assertInScope(scope, row.channel_id, "Webhook endpoint");
  return row;
}

/** Creates an endpoint; returns it with the full secret (shown this once). */
export function createEndpoint(deps: Deps, channel: Channel, values: WebhookValues): { row: WebhookEndpoint; secret: string } {
  const problem = urlProblem(values.url, addressPolicy(deps));
  if (problem) throw validationError({ url: [problem] });
  const secret = `whsec_${randomBase62(32)}`;
  const now = deps.clock.now();
  const row = deps.db.transaction((tx) => {
    const n = tx.select({ n: count() }).from(webhook_endpoints).where(eq(webhook_endpoints.channel_id, channel.id)).get()!.n;
    if (n >= MAX_ENDPOINTS_PER_CHANNEL) throw unprocessable(`A channel can have at most ${MAX_ENDPOINTS_PER_CHANNEL} webhook endpoints`, { errors: { base: [`at most ${MAX_ENDPOINTS_PER_CHANNEL} webhook endpoints per channel`] } });
    return tx
      .insert(webhook_endpoints)
      .values({
        channel_id: channel.id,
        url: values.url,
        description: values.description ?? null,
        active: values.active ?? true,
        event_types: values.event_types,
        retries_to_attempt: values.retries_to_attempt ?? 6,
        secret_enc: encryptSecret(deps.config.dataDir, secret),
        secret_hint: `${secret.slice(0, 4)}${secret.slice(-4)}`,
        created_at: now,
        updated_at: now,
      })
      .returning()
      .get();
  });
  return { row, secret };
}

export function updateEndpoint(deps: Deps, endpoint: WebhookEndpoint, values: WebhookChanges): WebhookEndpoint {
  const { url: _immutable, ...changes } = values;
  return deps.db
    .update(webhook_endpoints)
    .set({ ...changes, ...(changes.retries_to_attempt === null ? { retries_to_attempt: 6 } : {}), updated_at: deps.clock.now() })
    .where(eq(webhook_endpoints.id, endpoint.id))
    .returning()
    .get();
}

/** Deletes the endpoint; its deliveries (pending ones cancelled) go with it. */
export function deleteEndpoint(deps: Deps, endpoint: WebhookEndpoint): void {
  deps.db.delete(webhook_endpoints).where(eq(webhook_endpoints.id, endpoint.id)).run();
}

/** The delivery log of one endpoint, id ascending (§1.5). */
export function listDeliveries(deps: Deps, endpoint: WebhookEndpoint, status: (typeof DELIVERY_STATUSES)[number] | undefined, limit: number, offset: number) {
  const where = and(eq(webhook_deliveries.endpoint_id, endpoint.id), status ? eq(webhook_deliveries.status, status) : sql`1`);
  const rows = deps.db.select().from(webhook_deliveries).where(where).orderBy(webhook_deliveries.id).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(webhook_deliveries).where(where).get()!.n;
  return { rows, total };
}

/**
 * Deletes up to `batch` deliveries created more than `retentionDays` ago (MAILROOM_EVENT_RETENTION_DAYS,
 * like their events). Looks only at the oldest `batch` rows: ids grow with creation time, and no
 * delivery that old still has a retry due (20 retries span under 14 days).
 */
export function pruneDeliveries(db: Db, now: number, retentionDays: number, batch: number): number {
  const cutoff = now - retentionDays * 24 * 60 * 60 * 1000;
  const oldest = sql`SELECT id FROM (SELECT id, created_at FROM ${webhook_deliveries} ORDER BY id LIMIT ${batch}) WHERE created_at < ${cutoff}`;
  return changes(db.delete(webhook_deliveries).where(sql`${webhook_deliveries.id} IN (${oldest})`).run());
}

export const deliveryRetentionJob = (db: Db, retentionDays: number) =>
  retentionJob("webhooks.retention", (now, batch) => pruneDeliveries(db, now, retentionDays, batch));
