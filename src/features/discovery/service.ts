/**
 * Discovery (docs/api-reference.md §2.3): whoami, status, prime and skill — what a token is, what it can reach,
 * and whether its channel can send.
 */
import type { Authenticator, BucketName } from "@/auth/authenticator";
import { permissionMap, PERMISSIONS } from "@/auth/permissions";
import type { Principal } from "@/auth/principal";
import type { Scope } from "@/auth/scope";
import { count, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { subscriber_counts, subscribers, type Channel } from "@/db/schema";
import type { Deps } from "@/deps";
import { peekQuota } from "@/features/channels/quota";
import { eligibleCondition } from "@/features/subscribers/eligibility";
import { deliveryMode, type DeliveryMode } from "@/features/email_servers/service";
import { PURPOSES, type Purpose } from "@/features/email_servers/model";
import { toIso } from "@/lib/time";
import { VERSION } from "@/version";

export interface RouteInfo {
  method: string;
  path: string;
  /** Exactly one rule per route: a permission (or several), any valid token, or no token. */
  access: "permission" | "any_token" | "public";
  /** The route's one-line description, from its contract. */
  summary: string;
  permissions: string[];
  scopeAll: boolean;
}

const tokenType = (p: Principal) => (p.scope === "all" ? "admin_cross_channel" : "channel_scoped");

function rateLimits(auth: Authenticator, p: Principal) {
  const out: Record<string, unknown> = {};
  for (const bucket of ["general", "send"] as BucketName[]) {
    const s = auth.peek(p, bucket);
    if (s) out[bucket] = { limit: s.limit, remaining: s.remaining, reset: s.reset, window_seconds: 60 };
  }
  return out;
}

/** Whoami is the hottest discovery route: a token's unchanging metadata is built once per cache load. */
const staticMeta = new WeakMap<object, ReturnType<typeof buildStaticMeta>>();

function buildStaticMeta(deps: Deps, p: Principal) {
  const row = p.token?.row;
  return {
    id: p.id,
    label: p.label,
    name: p.label,
    type: tokenType(p),
    redacted_value: row?.redacted_value ?? null,
    created_at: toIso(row?.created_at),
    expires_at: toIso(row?.expires_at),
    permissions: permissionMap(p.permissions),
    scope: p.scope,
    channels: p.channelIds.map((id) => deps.auth.cache.channelById(id)?.slug).filter(Boolean),
    allowed_ips: row?.allowed_ips ?? [],
  };
}

function tokenMeta(deps: Deps, p: Principal) {
  let meta = p.token ? staticMeta.get(p.token) : undefined;
  if (!meta) {
    meta = buildStaticMeta(deps, p);
    if (p.token) staticMeta.set(p.token, meta);
  }
  const row = p.token?.row;
  const pending = row ? deps.auth.usage.pendingFor(row.id) : undefined;
  const { id, label, name, type, redacted_value, created_at, expires_at, permissions, scope, channels, allowed_ips } = meta;
  const last_used_at = toIso(pending?.at ?? row?.last_used_at);
  return { id, label, name, type, redacted_value, created_at, last_used_at, expires_at, permissions, scope, channels, allowed_ips };
}

const channelBrief = (deps: Deps, scope: Scope) => {
  if (scope.channelIds.length !== 1) return null;
  const c = deps.auth.cache.channelById(scope.channelIds[0]);
  return c ? { id: c.id, name: c.name, slug: c.slug } : null;
};

export function whoami(deps: Deps, scope: Scope) {
  const p = scope.principal;
  const type = tokenType(p);
  return { type, token_type: type, token: tokenMeta(deps, p), channel: channelBrief(deps, scope), rate_limits: rateLimits(deps.auth, p) };
}

const reachable = (p: Principal, routes: readonly RouteInfo[]) =>
  routes.filter((r) => r.permissions.every((perm) => p.permissions.has(perm as never)) && (!r.scopeAll || p.scope === "all"));

/** `readiness.<purpose>` and `delivery.<purpose>` of one channel, with the issues that block sending. */
function channelReadiness(deps: Deps, channel: Channel) {
  const readiness: Record<Purpose, boolean> = { broadcasts: false, sequences: false, transactionals: false };
  const delivery: Record<Purpose, DeliveryMode> = { broadcasts: "none", sequences: "none", transactionals: "none" };
  const issues: { code: string; message: string }[] = [];
  if (!channel.sender_email) issues.push({ code: "sender_email_missing", message: "Set the channel's sender_email to send mail" });
  for (const purpose of PURPOSES) {
    const { mode, activeServers } = deliveryMode(deps, channel.id, purpose);
    delivery[purpose] = mode;
    const routable = mode === "capture" || (mode === "servers" && activeServers > 0);
    readiness[purpose] = !!channel.sender_email && routable;
    if (mode === "servers" && activeServers === 0) issues.push({ code: "no_active_server", message: `No active email server for ${purpose}; mail stays queued` });
    if (mode === "none") issues.push({ code: "no_delivery", message: `No email server for ${purpose} and local capture is off; mail stays queued` });
  }
  if (deps.config.bounceDomain && deps.config.inboundPort === undefined) {
    issues.push({ code: "bounce_listener_off", message: "MAILROOM_BOUNCE_DOMAIN is set but MAILROOM_INBOUND_PORT is not: bounces to the return paths are not received here" });
  }
  return { readiness, delivery, issues };
}

/** §2.3 status: for one target channel its readiness, audience and quota; otherwise the channel list. */
export function status(deps: Deps, scope: Scope) {
  if (scope.channelIds.length !== 1) {
    return { channel: null, channels: scope.channelIds.map((id) => deps.auth.cache.channelById(id)!).map((c) => ({ id: c.id, slug: c.slug, name: c.name })) };
  }
  const channel = scope.one();
  const now = deps.clock.now();
  const quota = peekQuota(deps.db, channel, now);
  return {
    channel: { id: channel.id, slug: channel.slug, name: channel.name, sender_email: channel.sender_email, sender_name: channel.sender_name },
    subscribers: subscriberTotals(deps.db, channel.id),
    ...channelReadiness(deps, channel),
    quota: { monthly_send_quota: quota.cap, used: quota.used, remaining: quota.remaining, resets_at: quota.resetsAt },
    bounces: bounceHandling(deps),
  };
}

/** The bounce domain, whether this instance receives its mail, and the MX record that sends it here. */
function bounceHandling(deps: Deps) {
  const domain = deps.config.bounceDomain ?? null;
  const host = new URL(deps.config.publicUrl).hostname;
  return {
    verp: domain !== null,
    domain,
    inbound_listener: deps.config.inboundPort !== undefined,
    dns: domain ? [{ type: "MX", name: domain, value: `10 ${host}.` }] : [],
  };
}

/**
 * Total subscribers (trigger-maintained counter) and the eligible ones — exactly the audience a
 * broadcast to the whole channel would reach (`eligibleCondition`, the rule fan-out uses).
 */
function subscriberTotals(db: Db, channelId: number) {
  const total = db.select({ n: subscriber_counts.total }).from(subscriber_counts).where(eq(subscriber_counts.channel_id, channelId)).get()?.n ?? 0;
  const active = db.select({ n: count() }).from(subscribers).where(eligibleCondition(channelId)).get()!.n;
  return { total, active };
}

export function prime(deps: Deps, scope: Scope, routes: readonly RouteInfo[]) {
  const p = scope.principal;
  return {
    platform: "mailroom",
    version: VERSION,
    api_version: "v1",
    base_url: `${deps.config.publicUrl}/api/v1`,
    token: tokenMeta(deps, p),
    channel: channelBrief(deps, scope),
    channels: scope.channelIds.map((id) => {
      const c = deps.auth.cache.channelById(id)!;
      return { id: c.id, slug: c.slug, readiness: channelReadiness(deps, c).readiness };
    }),
    permissions: PERMISSIONS.filter((perm) => p.permissions.has(perm)),
    endpoints: reachable(p, routes).map((r) => ({ method: r.method, path: r.path, permission: r.permissions[0] ?? null, summary: r.summary })),
    rate_limits: rateLimits(deps.auth, p),
    idempotency: { header: "Idempotency-Key", routes: ["POST /api/v1/transactionals"] },
    tips: [
      "Send the token only in the Authorization header: Bearer <token>.",
      "On 429, wait Retry-After seconds before retrying.",
      "Use an Idempotency-Key on POST /transactionals so retries never send twice.",
      "Pass channel (slug) or broadcast_channel_id when the token reaches several channels.",
    ],
  };
}

/** Markdown with YAML front matter for agents: auth, reachable routes, safety rules. */
export function skill(deps: Deps, scope: Scope, routes: readonly RouteInfo[]): string {
  const base = `${deps.config.publicUrl}/api/v1`;
  const lines = reachable(scope.principal, routes).map((r) => `- \`${r.method} ${r.path}\` — ${r.summary}${r.permissions.length ? ` (${r.permissions.join(" + ")})` : ""}`);
  return `---
name: mailroom
description: Send and manage email through a Mailroom instance (Broadcast API v1 compatible).
version: ${VERSION}
base_url: ${base}
---

# Mailroom API

Authenticate every request with \`Authorization: Bearer $MAILROOM_TOKEN\`. Bodies are JSON.
Errors have a string \`error\`; 401 = bad token, 403 = missing permission or channel, 422 = invalid input.

## Routes this token can reach

The full description of every route (parameters, bodies, responses): \`GET ${base}/openapi.json\`.

${lines.join("\n")}

## Safety rules

- Confirm with the user before \`POST /broadcasts/:id/send_broadcast\` or \`POST /subscribers/redact\`: they cannot be undone.
- Use an \`Idempotency-Key\` header on \`POST /transactionals\`; retry with the same key.
- On 429 honour \`Retry-After\`; on 5xx retry with backoff.
- Never print, log or commit the token value.
`;
}
