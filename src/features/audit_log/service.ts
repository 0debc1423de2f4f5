/**
 * The audit log (docs/api-reference.md §2.6): one append-only row per change to tokens, channels, email servers,
 * webhook endpoints and admin users, and per dashboard login. Secrets are recorded as "[redacted]".
 */
import { and, count, eq, gte, inArray, lt, lte, type SQL } from "drizzle-orm";
import { changes, type Db } from "@/db/client";
import { audit_log, type AuditRow } from "@/db/schema";
import type { Principal } from "@/auth/principal";
import type { Clock } from "@/lib/time";
import { toIso } from "@/lib/time";
import { retentionJob } from "@/jobs/retention";
import type { FieldValues } from "@/input/fields";
import type { AuditFilterFields, AuditRowJson } from "./model";

export interface Actor {
  type: "token" | "admin" | "cli" | "system";
  id: number | null;
  label: string | null;
}

export interface AuditEntry {
  actor: Actor;
  action: string;
  target: { type: string; id: number | null; label: string | null };
  channel?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  changes?: Record<string, [unknown, unknown]> | null;
}

/** Who made a change, and from where (passed by routes and the CLI to every audited service). */
export interface AuditContext {
  actor: Actor;
  ip?: string | null;
  userAgent?: string | null;
}

export const auditContextOf = (p: Principal): AuditContext => ({
  actor: { type: p.kind, id: p.id, label: p.label },
  ip: p.ip,
  userAgent: p.userAgent,
});

export const REDACTED = "[redacted]";
/** Audit rows are kept 365 days (§2.6). */
export const AUDIT_RETENTION_MS = 365 * 24 * 60 * 60 * 1000;
export const CLI_ACTOR: Actor = { type: "cli", id: null, label: "cli" };
export const SYSTEM_ACTOR: Actor = { type: "system", id: null, label: "system" };

/** `{field: [before, after]}` for fields whose value differs; `secretFields` are redacted. */
export function diff(before: Record<string, unknown>, after: Record<string, unknown>, secretFields: readonly string[] = []) {
  const changes: Record<string, [unknown, unknown]> = {};
  for (const key of Object.keys(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
      changes[key] = secretFields.includes(key) ? [REDACTED, REDACTED] : [before[key] ?? null, after[key] ?? null];
    }
  }
  return changes;
}

/** Appends one row (call inside the transaction of the change it records). */
export function recordAudit(db: Db, clock: Clock, e: AuditEntry): void {
  db.insert(audit_log)
    .values({
      created_at: clock.now(),
      actor_type: e.actor.type,
      actor_id: e.actor.id,
      actor_label: e.actor.label,
      action: e.action,
      target_type: e.target.type,
      target_id: e.target.id,
      target_label: e.target.label,
      channel: e.channel ?? null,
      ip: e.ip ?? null,
      user_agent: e.userAgent ?? null,
      changes: e.changes && Object.keys(e.changes).length ? e.changes : null,
    })
    .run();
}

export type AuditFilters = FieldValues<typeof AuditFilterFields, true>;

export function listAudit(db: Db, filters: AuditFilters, limit: number, offset: number) {
  const where: SQL[] = [];
  if (filters.action) where.push(eq(audit_log.action, filters.action));
  if (filters.actor_type) where.push(eq(audit_log.actor_type, filters.actor_type));
  if (filters.target_type) where.push(eq(audit_log.target_type, filters.target_type));
  if (filters.target_id !== undefined) where.push(eq(audit_log.target_id, filters.target_id));
  if (filters.created_after !== undefined) where.push(gte(audit_log.created_at, filters.created_after));
  if (filters.created_before !== undefined) where.push(lte(audit_log.created_at, filters.created_before));
  const cond = where.length ? and(...where) : undefined;
  const rows = db.select().from(audit_log).where(cond).orderBy(audit_log.id).limit(limit).offset(offset).all();
  const total = db.select({ n: count() }).from(audit_log).where(cond).get()!.n;
  return { rows: rows.map(encodeAuditRow), total };
}

export function encodeAuditRow(r: AuditRow): AuditRowJson {
  return {
    id: r.id,
    created_at: toIso(r.created_at),
    actor: { type: r.actor_type, id: r.actor_id, label: r.actor_label },
    action: r.action,
    target: { type: r.target_type, id: r.target_id, label: r.target_label },
    channel: r.channel,
    ip: r.ip,
    user_agent: r.user_agent,
    changes: r.changes ?? {},
  };
}

/** Deletes up to `batch` audit rows older than the retention period; returns how many. */
export function pruneAuditLog(db: Db, now: number, batch: number): number {
  const old = db.select({ id: audit_log.id }).from(audit_log).where(lt(audit_log.created_at, now - AUDIT_RETENTION_MS)).orderBy(audit_log.id).limit(batch);
  return changes(db.delete(audit_log).where(inArray(audit_log.id, old)).run());
}

/** Audit rows are kept 365 days (§2.6). */
export const auditRetentionJob = (db: Db) => retentionJob("audit_log.retention", (now, batch) => pruneAuditLog(db, now, batch));
