/**
 * Email servers (docs/api-reference.md §9): CRUD scoped to T, the SMTP password encrypted at rest and never
 * returned, test_connection over a real SMTP session, copy_to_channel, and the routing query the
 * delivery job uses. Every change is audited with secrets redacted.
 */
import { and, asc, count, eq, inArray, sql } from "drizzle-orm";
import { lookupChannels, type ChannelRef, type Scope } from "@/auth/scope";
import type { Db } from "@/db/client";
import { email_servers, type Channel, type EmailServer } from "@/db/schema";
import type { Deps } from "@/deps";
import { diff, recordAudit, REDACTED, type AuditContext } from "@/features/audit_log/service";
import { notFound, unprocessable, validationError } from "@/lib/errors";
import { encryptSecret } from "@/lib/secrets";
import type { FieldValues } from "@/input/fields";
import type { EmailServerFields, Purpose } from "./model";
import { SECRET_COLUMNS } from "./credentials";

/** A create's or an update's fields (required ones checked by the route on create). */
export type EmailServerValues = FieldValues<typeof EmailServerFields, true>;
import { serverTarget } from "./target";

const RESOURCE = "Email server";
const TEST_TIMEOUT_MS = 10_000;

/** Servers of T, by id, with the total. */
export function listEmailServers(deps: Deps, scope: Scope, limit: number, offset: number) {
  const where = inArray(email_servers.channel_id, [...scope.channelIds]);
  const rows = deps.db.select().from(email_servers).where(where).orderBy(asc(email_servers.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(email_servers).where(where).get()!.n;
  return { rows, total };
}

/** A server of T. @throws 404 "Email server not found" (missing or outside T). */
export function getEmailServer(deps: Deps, scope: Scope, id: number): EmailServer {
  const row = deps.db.select().from(email_servers).where(eq(email_servers.id, id)).get();
  if (!row || !scope.has(row.channel_id)) throw notFound(RESOURCE);
  return row;
}

/** Column values from validated fields: credentials are encrypted, port 465 implies implicit TLS on create. */
function toColumns(deps: Deps, values: EmailServerValues, creating: boolean): Partial<EmailServer> {
  const cols: Record<string, unknown> = { ...values };
  for (const [field, column] of Object.entries(SECRET_COLUMNS)) {
    const value = cols[field] as string | null | undefined;
    delete cols[field];
    // "" or null removes the credential.
    if (value !== undefined) cols[column] = value ? encryptSecret(deps.config.dataDir, value) : null;
  }
  return { ...cols, ...(creating && values.smtp_tls === undefined && values.smtp_port === 465 ? { smtp_tls: true } : {}) };
}

/** Audit changes with credentials recorded as "[redacted]" under their field names. */
function auditChanges(before: Partial<EmailServer>, after: Partial<EmailServer>) {
  const changes = diff(before as Record<string, unknown>, after as Record<string, unknown>);
  for (const [field, column] of Object.entries(SECRET_COLUMNS)) {
    if (!changes[column]) continue;
    delete changes[column];
    changes[field] = [REDACTED, REDACTED];
  }
  return changes;
}

/** Creates a server on `channel` (|T| = 1 checked by the caller). */
export function createEmailServer(deps: Deps, channel: Channel, values: EmailServerValues, ctx: AuditContext): EmailServer {
  const now = deps.clock.now();
  const cols = toColumns(deps, values, true);
  const created = deps.db.transaction((tx) => {
    const row = tx
      .insert(email_servers)
      .values({ ...cols, label: cols.label!, smtp_address: cols.smtp_address!, channel_id: channel.id, created_at: now, updated_at: now })
      .returning()
      .get();
    recordAudit(tx, deps.clock, {
      ...ctx,
      action: "email_server.created",
      target: { type: "email_server", id: row.id, label: row.label },
      channel: channel.slug,
      changes: auditChanges({}, cols),
    });
    return row;
  });
  deps.outbox.routesChanged(channel.id, now);
  return created;
}

/** Applies a PATCH. */
export function updateEmailServer(deps: Deps, server: EmailServer, values: EmailServerValues, ctx: AuditContext): EmailServer {
  const cols = toColumns(deps, values, false);
  const updated = deps.db.transaction((tx) => {
    const row = tx
      .update(email_servers)
      .set({ ...cols, updated_at: Math.max(deps.clock.now(), server.updated_at + 1) })
      .where(eq(email_servers.id, server.id))
      .returning()
      .get();
    recordAudit(tx, deps.clock, {
      ...ctx,
      action: "email_server.updated",
      target: { type: "email_server", id: server.id, label: row.label },
      channel: deps.auth.cache.slugOf(server.channel_id),
      changes: auditChanges(server, cols),
    });
    return row;
  });
  // Activated, limits raised, purposes widened: mail waiting for a route tries again now.
  deps.outbox.routesChanged(server.channel_id, deps.clock.now());
  return updated;
}

/** Deletes a server; queued mail is routed afresh at its next attempt (routing happens at send time). */
export function deleteEmailServer(deps: Deps, server: EmailServer, ctx: AuditContext): void {
  deps.db.transaction((tx) => {
    tx.delete(email_servers).where(eq(email_servers.id, server.id)).run();
    recordAudit(tx, deps.clock, {
      ...ctx,
      action: "email_server.deleted",
      target: { type: "email_server", id: server.id, label: server.label },
      channel: deps.auth.cache.slugOf(server.channel_id),
    });
  });
  deps.outbox.routesChanged(server.channel_id, deps.clock.now());
}

/**
 * Connects, EHLO, STARTTLS/TLS, AUTH (10 s limit) and records the result: success → active, errors
 * cleared; failure → inactive with `connection_failed_at` and `last_error`.
 */
export async function testConnection(deps: Deps, server: EmailServer, ctx: AuditContext): Promise<{ success: boolean; message: string }> {
  const result = await deps.transport.verify(serverTarget(deps, server), TEST_TIMEOUT_MS);
  const now = deps.clock.now();
  const changes: Partial<EmailServer> = result.ok
    ? { active: true, connection_failed_at: null, last_error: null }
    : { active: false, connection_failed_at: now, last_error: result.error };
  deps.db.transaction((tx) => {
    // Re-read: the row may have changed while the session ran.
    const current = tx.select().from(email_servers).where(eq(email_servers.id, server.id)).get();
    if (!current) return;
    tx.update(email_servers).set({ ...changes, updated_at: Math.max(now, current.updated_at + 1) }).where(eq(email_servers.id, server.id)).run();
    recordAudit(tx, deps.clock, {
      ...ctx,
      action: "email_server.connection_tested",
      target: { type: "email_server", id: server.id, label: server.label },
      channel: deps.auth.cache.slugOf(server.channel_id),
      changes: auditChanges(current, changes),
    });
  });
  if (result.ok) deps.outbox.routesChanged(server.channel_id, deps.clock.now());
  return result.ok ? { success: true, message: "Connection successful" } : { success: false, message: `Connection failed: ${result.error}` };
}

/**
 * Copies a server (password included) to another channel the token reaches.
 * @throws 422 missing/same target, 403 target outside the token's channels, 404 unknown target (scope all).
 */
export function copyEmailServer(deps: Deps, scope: Scope, server: EmailServer, input: Record<string, unknown>, ctx: AuditContext): EmailServer {
  const target = resolveTargetChannel(deps, scope, input);
  if (target.id === server.channel_id) throw unprocessable("Target channel must differ from the server's channel", { errors: { target_channel_id: ["must differ from the server's channel"] } });
  const now = deps.clock.now();
  const { id: _id, channel_id: _c, created_at: _ca, updated_at: _ua, ...fields } = server;
  const copy = deps.db.transaction((tx) => {
    const row = tx.insert(email_servers).values({ ...fields, channel_id: target.id, created_at: now, updated_at: now }).returning().get();
    recordAudit(tx, deps.clock, {
      ...ctx,
      action: "email_server.copied",
      target: { type: "email_server", id: row.id, label: row.label },
      channel: target.slug,
      changes: { source_email_server_id: [server.id, server.id], channel: [deps.auth.cache.slugOf(server.channel_id), target.slug] },
    });
    return row;
  });
  deps.outbox.routesChanged(target.id, now);
  return copy;
}

function resolveTargetChannel(deps: Deps, scope: Scope, input: Record<string, unknown>): Channel {
  const rawId = input.target_channel_id;
  const rawSlug = input.target_channel;
  let ref: ChannelRef;
  if (rawId !== undefined && rawId !== null && rawId !== "") {
    if (!(typeof rawId === "number" && Number.isSafeInteger(rawId)) && !(typeof rawId === "string" && /^\d+$/.test(rawId))) {
      throw validationError({ target_channel_id: ["must be an integer"] });
    }
    ref = { by: "id", value: String(rawId) };
  } else if (typeof rawSlug === "string" && rawSlug.trim() !== "") {
    ref = { by: "slug", value: rawSlug.trim() };
  } else {
    throw validationError({ target_channel_id: ["can't be blank"] });
  }
  return lookupChannels(scope.principal, deps.auth.cache, [ref])[0];
}


const PURPOSE_COLUMN = {
  broadcasts: email_servers.use_for_broadcasts,
  sequences: email_servers.use_for_sequences,
  transactionals: email_servers.use_for_transactionals,
} as const;

/** The channel's servers for a purpose (active or not), by priority then id — §9 routing order. */
export function serversForPurpose(db: Db, channelId: number, purpose: Purpose): EmailServer[] {
  return db
    .select()
    .from(email_servers)
    .where(and(eq(email_servers.channel_id, channelId), eq(PURPOSE_COLUMN[purpose], true)))
    .orderBy(asc(email_servers.priority), asc(email_servers.id))
    .all();
}

export type DeliveryMode = "servers" | "capture" | "none";

/**
 * Where a channel's mail for a purpose goes (§9): its servers when it has any for the purpose
 * (active or not — failing servers keep mail queued), else local capture when capture is on.
 * `MAILROOM_CAPTURE_ALL` sends everything to capture.
 */
export function deliveryMode(deps: Deps, channelId: number, purpose: Purpose): { mode: DeliveryMode; activeServers: number } {
  const { capture, captureAll } = deps.config;
  if (captureAll) return { mode: capture ? "capture" : "none", activeServers: 0 };
  const servers = serversForPurpose(deps.db, channelId, purpose);
  if (servers.length) return { mode: "servers", activeServers: servers.filter((s) => s.active).length };
  return { mode: capture ? "capture" : "none", activeServers: 0 };
}

/** Records a server-side failure seen during delivery (failover, §9). */
export function markServerFailed(db: Db, serverId: number, error: string, now: number): void {
  db.update(email_servers).set({ connection_failed_at: now, last_error: error.slice(0, 500) }).where(eq(email_servers.id, serverId)).run();
}

/** Clears the failure marks after a successful delivery through the server. */
export function markServerHealthy(db: Db, serverId: number): void {
  db.update(email_servers)
    .set({ connection_failed_at: null, last_error: null })
    .where(and(eq(email_servers.id, serverId), sql`${email_servers.connection_failed_at} IS NOT NULL`))
    .run();
}
