/**
 * Access token management (docs/api-reference.md §2.4–2.6), shared by /access_tokens, the dashboard and the CLI.
 * Values are generated here, returned once, and stored only as SHA-256. Every write invalidates the
 * auth cache at once (the next request sees it) and appends an audit row.
 */
import { and, count, eq, inArray, notInArray, sql, type SQL } from "drizzle-orm";
import type { Principal } from "@/auth/principal";
import { PRESETS, sortPermissions, type Permission } from "@/auth/permissions";
import { access_token_channels, access_tokens, channels, type AccessToken } from "@/db/schema";
import type { Db } from "@/db/client";
import type { Deps } from "@/deps";
import { diff, recordAudit, REDACTED, type AuditContext } from "@/features/audit_log/service";
import { notFound, validationError } from "@/lib/errors";
import type { Warning } from "@/input/fields";
import { toIso } from "@/lib/time";
import { generateToken, hashToken, redactToken } from "@/lib/tokens";
import { assertWithinCaller, canSee, capOmittedRateLimits, deny, type TokenShape } from "./escalation";
import type { FieldValues } from "@/input/fields";
import { latestExpiry, MAX_GRACE_SECONDS, type TokenFields, type TokenView } from "./model";

/** Who is acting: a request principal (token or admin), or the CLI/system (principal null). */
export interface TokenActor {
  principal: Principal | null;
  audit: AuditContext;
  /** The request's target set T: a channel-scoped caller's new token defaults to it (§2.4). */
  targetChannelIds?: readonly number[];
}

/** The fields of a create (`name` required there) or an update. */
export type TokenInput = FieldValues<typeof TokenFields, true>;

function channelSlugs(db: Db, tokenIds: number[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  if (tokenIds.length === 0) return out;
  const rows = db
    .select({ token_id: access_token_channels.token_id, slug: channels.slug })
    .from(access_token_channels)
    .innerJoin(channels, eq(channels.id, access_token_channels.channel_id))
    .where(inArray(access_token_channels.token_id, tokenIds))
    .orderBy(channels.id)
    .all();
  for (const r of rows) out.set(r.token_id, [...(out.get(r.token_id) ?? []), r.slug]);
  return out;
}

function channelIdsOf(db: Db, tokenId: number): number[] {
  return db
    .select({ id: access_token_channels.channel_id })
    .from(access_token_channels)
    .where(eq(access_token_channels.token_id, tokenId))
    .all()
    .map((r) => r.id)
    .sort((a, b) => a - b);
}

/** Rows whose usage is still in memory get it merged (reads lag ≤ 1 s otherwise). */
function withPendingUsage(deps: Deps, row: AccessToken): AccessToken {
  const p = deps.auth.usage.pendingFor(row.id);
  return p ? { ...row, last_used_at: p.at, last_used_ip: p.ip, request_count: row.request_count + p.count } : row;
}

function view(deps: Deps, row: AccessToken): TokenView {
  return { row: withPendingUsage(deps, row), channels: channelSlugs(deps.db, [row.id]).get(row.id) ?? [] };
}

function shapeOf(deps: Deps, row: AccessToken, channelIds: readonly number[]): TokenShape {
  return {
    permissions: row.permissions,
    scope: row.scope,
    channelIds,
    allowedIps: row.allowed_ips,
    expiresAt: row.expires_at,
    effective: {
      general: row.rate_limit_general ?? deps.config.rateLimitGeneral,
      send: row.rate_limit_send ?? deps.config.rateLimitSend,
    },
  };
}

/** The caller's own shape (for the escalation rules), or null for admins/CLI. */
function callerShape(deps: Deps, caller: Principal | null): TokenShape | null {
  if (!caller || caller.kind !== "token" || !caller.token) return null;
  return shapeOf(deps, caller.token.row, caller.channelIds);
}

/** SQL condition: tokens visible to a channel-scoped caller (§2.5; `canSee` in SQL). */
function visibleTo(caller: Principal | null): SQL | undefined {
  if (!caller || caller.kind !== "token" || caller.scope === "all") return undefined;
  const own = caller.channelIds.length ? [...caller.channelIds] : [-1];
  return and(
    eq(access_tokens.scope, "channels"),
    sql`EXISTS (SELECT 1 FROM ${access_token_channels} WHERE ${access_token_channels.token_id} = ${access_tokens.id})`,
    sql`NOT EXISTS (SELECT 1 FROM ${access_token_channels} WHERE ${access_token_channels.token_id} = ${access_tokens.id} AND ${notInArray(access_token_channels.channel_id, own)})`,
  );
}

export function listTokens(deps: Deps, actor: TokenActor, limit: number, offset: number) {
  const where = visibleTo(actor.principal);
  const rows = deps.db.select().from(access_tokens).where(where).orderBy(access_tokens.id).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(access_tokens).where(where).get()!.n;
  const slugs = channelSlugs(deps.db, rows.map((r) => r.id));
  return { rows: rows.map((r) => ({ row: withPendingUsage(deps, r), channels: slugs.get(r.id) ?? [] })), total };
}

/** A visible token. @throws 404 when missing or invisible (no existence oracle). */
export function getToken(deps: Deps, actor: TokenActor, id: number): TokenView {
  const row = deps.db.select().from(access_tokens).where(eq(access_tokens.id, id)).get();
  if (!row) throw notFound("Access token");
  if (actor.principal && !canSee(actor.principal, { scope: row.scope, channelIds: channelIdsOf(deps.db, id) })) throw notFound("Access token");
  return view(deps, row);
}

/** @throws 422 unknown slugs; 403 for a channel-scoped caller, as for a known channel outside its own (no existence oracle). */
function resolveChannelIds(deps: Deps, slugs: string[], caller: Principal | null): number[] {
  const rows = deps.db.select({ id: channels.id, slug: channels.slug }).from(channels).where(inArray(channels.slug, slugs)).all();
  const missing = slugs.filter((s) => !rows.some((r) => r.slug === s));
  if (missing.length && caller?.kind === "token" && caller.scope === "channels") throw deny("channel", missing[0]);
  if (missing.length) throw validationError({ channels: [`unknown channel: ${missing.join(", ")}`] });
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

function applyPermissions(current: readonly string[], input: TokenInput): Permission[] {
  let set = new Set<string>(current);
  if (input.preset) set = new Set(PRESETS[input.preset]);
  if (input.permissions && "replace" in input.permissions) set = new Set(input.permissions.replace);
  if (input.permissions && "changes" in input.permissions) {
    for (const [name, on] of input.permissions.changes) on ? set.add(name) : set.delete(name);
  }
  return sortPermissions(set);
}

interface Desired {
  name: string;
  permissions: Permission[];
  scope: "channels" | "all";
  channelIds: number[];
  allowedIps: string[];
  expiresAt: number | null;
  rateGeneral: number | null;
  rateSend: number | null;
}

/** Merges input into the current state (or defaults on create) and checks every rule. */
function desiredState(deps: Deps, actor: TokenActor, current: { row: AccessToken; channelIds: number[] } | null, input: TokenInput, warnings: Warning[]): Desired {
  const now = deps.clock.now();
  const caller = actor.principal;
  const row = current?.row;
  if (!current && !input.preset && !input.permissions) throw validationError({ permissions: ["can't be blank"] });
  const scope = input.scope ?? row?.scope ?? "channels";
  let channelIds: number[];
  if (scope === "all") {
    channelIds = [];
    if (input.channels?.length) warnings.push({ code: "parameter_ignored", param: "channels", message: "channels are not used by scope all" });
  } else if (input.channels) {
    if (input.channels.length === 0) throw validationError({ channels: ["can't be blank"] });
    channelIds = resolveChannelIds(deps, input.channels, caller);
  } else if (current && row!.scope === "channels") {
    channelIds = current.channelIds;
  } else if (caller?.kind === "token" && caller.scope === "channels") {
    channelIds = [...(actor.targetChannelIds ?? caller.channelIds)];
  } else {
    throw validationError({ channels: ["can't be blank"] });
  }
  // A channel-scoped token needs a channel: one whose channels were all deleted gets new ones first.
  if (scope === "channels" && channelIds.length === 0) throw validationError({ channels: ["can't be blank"] });
  const expiresAt = input.expires_at !== undefined ? input.expires_at : (row?.expires_at ?? null);
  if (input.expires_at != null) {
    if (input.expires_at <= now) throw validationError({ expires_at: ["must be in the future"] });
    if (input.expires_at > latestExpiry(now)) throw validationError({ expires_at: ["must be at most 10 years ahead"] });
  }
  let rateGeneral = input.rate_limits?.general_per_minute !== undefined ? input.rate_limits.general_per_minute : (row?.rate_limit_general ?? null);
  let rateSend = input.rate_limits?.send_per_minute !== undefined ? input.rate_limits.send_per_minute : (row?.rate_limit_send ?? null);
  const mine = callerShape(deps, caller);
  if (caller && mine) {
    const capped = capOmittedRateLimits(caller, mine.effective, { general: rateGeneral, send: rateSend }, { general: deps.config.rateLimitGeneral, send: deps.config.rateLimitSend }, warnings);
    rateGeneral = capped.general;
    rateSend = capped.send;
  }
  const desired: Desired = {
    name: input.name ?? input.label ?? row!.name,
    permissions: applyPermissions(row?.permissions ?? [], input),
    scope,
    channelIds,
    allowedIps: input.allowed_ips ?? row?.allowed_ips ?? [],
    expiresAt,
    rateGeneral,
    rateSend,
  };
  if (caller && mine) assertWithinCaller(caller, mine, shapeOfDesired(deps, desired), (id) => slugOf(deps, id));
  return desired;
}

const slugOf = (deps: Deps, id: number) => deps.auth.cache.slugOf(id) ?? String(id);

function shapeOfDesired(deps: Deps, d: Desired): TokenShape {
  return {
    permissions: d.permissions,
    scope: d.scope,
    channelIds: d.channelIds,
    allowedIps: d.allowedIps,
    expiresAt: d.expiresAt,
    effective: { general: d.rateGeneral ?? deps.config.rateLimitGeneral, send: d.rateSend ?? deps.config.rateLimitSend },
  };
}

/** The caller may act on an existing token only if it can see it and its current state is within the caller's. */
function assertMayModify(deps: Deps, actor: TokenActor, row: AccessToken, channelIds: number[]): void {
  const caller = actor.principal;
  if (!caller || caller.kind !== "token") return;
  if (!canSee(caller, { scope: row.scope, channelIds })) throw notFound("Access token");
  if (caller.id === row.id) return;
  assertWithinCaller(caller, callerShape(deps, caller)!, shapeOf(deps, row, channelIds), (id) => slugOf(deps, id));
}

/** The columns a create or an edit writes from the desired state. */
const editableColumns = (d: Desired) => ({
  name: d.name,
  permissions: d.permissions,
  scope: d.scope,
  allowed_ips: d.allowedIps,
  expires_at: d.expiresAt,
  rate_limit_general: d.rateGeneral,
  rate_limit_send: d.rateSend,
});

function setChannels(db: Db, tokenId: number, channelIds: number[]) {
  db.delete(access_token_channels).where(eq(access_token_channels.token_id, tokenId)).run();
  if (channelIds.length) db.insert(access_token_channels).values(channelIds.map((channel_id) => ({ token_id: tokenId, channel_id }))).run();
}

/** A token's state as the audit log records it: in the API's own terms (channel slugs, ISO times). */
function publicState(
  deps: Deps,
  d: { name: string; permissions: readonly string[]; scope: string; channelIds: readonly number[]; allowedIps: readonly string[]; expiresAt: number | null; rateGeneral: number | null; rateSend: number | null },
) {
  return {
    name: d.name,
    permissions: [...d.permissions],
    scope: d.scope,
    channels: d.channelIds.map((id) => slugOf(deps, id)),
    allowed_ips: [...d.allowedIps],
    expires_at: toIso(d.expiresAt),
    rate_limits: { general_per_minute: d.rateGeneral, send_per_minute: d.rateSend },
  };
}

const stateOfRow = (deps: Deps, row: AccessToken, channelIds: number[]) =>
  publicState(deps, { name: row.name, permissions: row.permissions, scope: row.scope, channelIds, allowedIps: row.allowed_ips, expiresAt: row.expires_at, rateGeneral: row.rate_limit_general, rateSend: row.rate_limit_send });

/**
 * Creates a token; returns its view and the value (shown once).
 * @throws 422 invalid input, 403 escalation.
 */
export function createToken(deps: Deps, actor: TokenActor, input: TokenInput, warnings: Warning[] = []): { view: TokenView; value: string } {
  const d = desiredState(deps, actor, null, input, warnings);
  const value = generateToken();
  const now = deps.clock.now();
  const creator = actor.principal ?? null;
  const row = deps.db.transaction((tx) => {
    const created = tx
      .insert(access_tokens)
      .values({
        ...editableColumns(d),
        token_hash: hashToken(value),
        redacted_value: redactToken(value),
        created_by_type: creator ? creator.kind : actor.audit.actor.type,
        created_by_id: creator ? creator.id : null,
        created_at: now,
        updated_at: now,
      })
      .returning()
      .get();
    setChannels(tx, created.id, d.channelIds);
    recordAudit(tx, deps.clock, {
      ...actor.audit,
      action: "access_token.created",
      target: { type: "access_token", id: created.id, label: created.name },
      changes: diff({}, { ...publicState(deps, d), token: REDACTED }, ["token"]),
    });
    return created;
  });
  deps.auth.cache.invalidate();
  return { view: view(deps, row), value };
}

function loadForChange(deps: Deps, actor: TokenActor, id: number) {
  const row = deps.db.select().from(access_tokens).where(eq(access_tokens.id, id)).get();
  if (!row) throw notFound("Access token");
  const channelIds = channelIdsOf(deps.db, id);
  assertMayModify(deps, actor, row, channelIds);
  return { row, channelIds };
}

/** Edits a token; takes effect on the next request. @throws 404, 403 escalation, 422. */
export function updateToken(deps: Deps, actor: TokenActor, id: number, input: TokenInput, warnings: Warning[] = []): TokenView {
  const current = loadForChange(deps, actor, id);
  const d = desiredState(deps, actor, current, input, warnings);
  const row = deps.db.transaction((tx) => {
    const updated = tx
      .update(access_tokens)
      .set({ ...editableColumns(d), updated_at: deps.clock.now() })
      .where(eq(access_tokens.id, id))
      .returning()
      .get();
    setChannels(tx, id, d.channelIds);
    recordAudit(tx, deps.clock, {
      ...actor.audit,
      action: "access_token.updated",
      target: { type: "access_token", id, label: d.name },
      changes: diff(stateOfRow(deps, current.row, current.channelIds), publicState(deps, d)),
    });
    return updated;
  });
  deps.auth.cache.invalidate();
  return view(deps, row);
}

/**
 * New value, everything else kept. With `graceSeconds` > 0 the old value keeps working until
 * `previous_value_expires_at`; a second refresh ends any earlier grace value.
 */
export function refreshToken(deps: Deps, actor: TokenActor, id: number, graceSeconds: number): { view: TokenView; value: string } {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    throw validationError({ grace_period_seconds: [`must be an integer between 0 and ${MAX_GRACE_SECONDS}`] });
  }
  const { row: current } = loadForChange(deps, actor, id);
  const value = generateToken();
  const now = deps.clock.now();
  const row = deps.db.transaction((tx) => {
    const updated = tx
      .update(access_tokens)
      .set({
        token_hash: hashToken(value),
        redacted_value: redactToken(value),
        previous_token_hash: graceSeconds > 0 ? current.token_hash : null,
        previous_expires_at: graceSeconds > 0 ? now + graceSeconds * 1000 : null,
        updated_at: now,
      })
      .where(eq(access_tokens.id, id))
      .returning()
      .get();
    recordAudit(tx, deps.clock, {
      ...actor.audit,
      action: "access_token.refreshed",
      target: { type: "access_token", id, label: current.name },
      changes: { token: [REDACTED, REDACTED], grace_period_seconds: [null, graceSeconds] },
    });
    return updated;
  });
  deps.auth.cache.invalidate();
  return { view: view(deps, row), value };
}

/** Deletes a token; its value (and any grace value) stops working on the next request. */
export function deleteToken(deps: Deps, actor: TokenActor, id: number): void {
  const { row } = loadForChange(deps, actor, id);
  deps.db.transaction((tx) => {
    tx.delete(access_tokens).where(eq(access_tokens.id, id)).run();
    recordAudit(tx, deps.clock, { ...actor.audit, action: "access_token.deleted", target: { type: "access_token", id, label: row.name } });
  });
  deps.auth.cache.invalidate();
}

