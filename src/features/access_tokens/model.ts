import { t, type Static } from "elysia";
import type { Config } from "@/config";
import type { AccessToken } from "@/db/schema";
import { f, result } from "@/input/fields";
import { formatCidr, parseCidr } from "@/auth/ip";
import { canonicalPermission, isPreset, permissionMap, PERMISSIONS, PRESETS, type Permission } from "@/auth/permissions";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { toIso } from "@/lib/time";

const RATE_LIMIT_MAX = 100_000;
/** The latest allowed `expires_at`: ten calendar years from `now` (§2.4). */
export function latestExpiry(now: number): number {
  const limit = new Date(now);
  limit.setUTCFullYear(limit.getUTCFullYear() + 10);
  return limit.getTime();
}

/** Longest grace period of a refresh (§2.4). */
export const MAX_GRACE_SECONDS = 86_400;

/** `POST /access_tokens/:id/refresh` body (wrapper `access_token`). */
export const RefreshFields = { grace_period_seconds: f.integer({ min: 0, max: MAX_GRACE_SECONDS }) };

/** `permissions` input: an array of names/aliases (replaces the set) or `{name: bool}` (changes it). */
const PERMISSION_NAMES = { type: "string", description: "A permission name or alias (§2.2)" };
const permissionsInput = f.custom<PermissionsInput, { schema: Record<string, unknown> }>((v) => {
  const names = Array.isArray(v) ? v : v && typeof v === "object" ? Object.keys(v) : typeof v === "string" ? v.split(",") : null;
  if (!names) return result.err("must be an array of permission names or an object of name: boolean");
  const unknown = names.filter((n) => typeof n !== "string" || !canonicalPermission(n.trim()));
  if (unknown.length) return result.err(`unknown permission: ${unknown.join(", ")}`);
  if (Array.isArray(v) || typeof v === "string") return result.ok({ replace: names.map((n: string) => canonicalPermission(n.trim())!) });
  const changes: [Permission, boolean][] = [];
  for (const [name, on] of Object.entries(v as Record<string, unknown>)) {
    const flag = on === true || on === "true" || on === 1 || on === "1" ? true : on === false || on === "false" || on === 0 || on === "0" ? false : null;
    if (flag === null) return result.err(`${name} must be true or false`);
    changes.push([canonicalPermission(name.trim())!, flag]);
  }
  return result.ok({ changes });
}, {
  schema: {
    description: "An array (or comma string) of names replaces the set; an object of name: boolean changes it",
    anyOf: [{ type: "array", items: PERMISSION_NAMES }, { type: "string" }, { type: "object", additionalProperties: { type: "boolean" } }],
  },
});

export type PermissionsInput = { replace: Permission[] } | { changes: [Permission, boolean][] };

const slugList = f.custom<string[], { schema: Record<string, unknown> }>((v) => {
  const list = typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string" || s === "")) return result.err("must be an array of channel slugs");
  if (list.length > 100) return result.err("is too long (maximum is 100 channels)");
  return result.ok([...new Set(list as string[])]);
}, { schema: { description: "Channel slugs (array or comma string), at most 100", anyOf: [{ type: "array", items: { type: "string" } }, { type: "string" }] } });

const readCidrs = (v: unknown) => {
  const list = typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(list)) return result.err("must be an array of IPs or CIDRs");
  if (list.length > 50) return result.err("is too long (maximum is 50 entries)");
  const out: string[] = [];
  for (const item of list) {
    const parsed = typeof item === "string" ? parseCidr(item) : null;
    if (!parsed) return result.err(`contains an invalid IP or CIDR: ${String(item)}`);
    out.push(formatCidr(parsed));
  }
  return result.ok([...new Set(out)]);
};

const readRateLimits = (v: unknown) => {
  if (!v || typeof v !== "object" || Array.isArray(v)) return result.err("must be an object with general_per_minute and send_per_minute");
  const out: { general_per_minute?: number | null; send_per_minute?: number | null } = {};
  for (const [key, raw] of Object.entries(v as Record<string, unknown>)) {
    if (key !== "general_per_minute" && key !== "send_per_minute") return result.err(`has an unknown key ${key}`);
    if (raw === null) {
      out[key] = null;
      continue;
    }
    const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1 || n > RATE_LIMIT_MAX) {
      return result.err(`${key} must be an integer between 1 and ${RATE_LIMIT_MAX}, or null`);
    }
    out[key] = n;
  }
  return result.ok(out);
};

const LIMIT = { anyOf: [{ type: "integer", minimum: 1, maximum: RATE_LIMIT_MAX }, { type: "null" }] };

export const TokenFields = {
  name: f.string({ required: true, max: 100 }),
  label: f.string({ max: 100 }),
  preset: f.custom((v) => (typeof v === "string" && isPreset(v) ? result.ok(v) : result.err("is not included in the list (all, read_only, none, transactional)")), {
    schema: { type: "string", enum: Object.keys(PRESETS) },
  }),
  permissions: permissionsInput,
  scope: f.enum(["channels", "all"] as const),
  channels: slugList,
  // null clears (§1.2): any IP / both instance defaults.
  allowed_ips: f.custom(readCidrs, {
    nullAs: [],
    schema: { description: "IPs or CIDRs (array or comma string), at most 50", anyOf: [{ type: "array", items: { type: "string" } }, { type: "string" }] },
  }),
  expires_at: f.time({ nullable: true }),
  rate_limits: f.custom(readRateLimits, {
    nullAs: { general_per_minute: null, send_per_minute: null },
    schema: { type: "object", properties: { general_per_minute: LIMIT, send_per_minute: LIMIT }, additionalProperties: false },
  }),
};

export interface TokenView {
  row: AccessToken;
  channels: string[];
}

const Limits = Strict({ general_per_minute: Nullable(Int()), send_per_minute: Nullable(Int()) });

/** The §2.4 token object (never the value or its hash). */
export const TokenSchema = Strict({
  id: Int(),
  name: t.String(),
  label: t.String(),
  type: t.Union([t.Literal("admin_cross_channel"), t.Literal("channel_scoped")]),
  redacted_value: t.String(),
  permissions: Strict(Object.fromEntries(PERMISSIONS.map((p) => [p, t.Boolean()]))),
  scope: t.Union([t.Literal("channels"), t.Literal("all")]),
  channels: t.Array(t.String()),
  allowed_ips: t.Array(t.String()),
  expires_at: Time,
  rate_limits: Limits,
  effective_rate_limits: Strict({ general_per_minute: Int(), send_per_minute: Int() }),
  last_used_at: Time,
  last_used_ip: Nullable(t.String()),
  request_count: Int(),
  previous_value_expires_at: Time,
  created_by: Strict({ type: t.String(), id: Nullable(Int()) }),
  created_at: Time,
  updated_at: Time,
});
/** A created or refreshed token: the value, shown this once. */
export const TokenWithValueSchema = Strict({ ...TokenSchema.properties, token: t.String() });

/** Public JSON of a token (never the value or its hash; `redacted_value` only). */
export function encodeToken({ row, channels }: TokenView, config: Pick<Config, "rateLimitGeneral" | "rateLimitSend">): Static<typeof TokenSchema> {
  const granted = new Set(row.permissions);
  return {
    id: row.id,
    name: row.name,
    label: row.name,
    type: row.scope === "all" ? "admin_cross_channel" : "channel_scoped",
    redacted_value: row.redacted_value,
    permissions: permissionMap(granted),
    scope: row.scope,
    channels: row.scope === "all" ? [] : channels,
    allowed_ips: row.allowed_ips,
    expires_at: toIso(row.expires_at),
    rate_limits: { general_per_minute: row.rate_limit_general, send_per_minute: row.rate_limit_send },
    effective_rate_limits: {
      general_per_minute: row.rate_limit_general ?? config.rateLimitGeneral,
      send_per_minute: row.rate_limit_send ?? config.rateLimitSend,
    },
    last_used_at: toIso(row.last_used_at),
    last_used_ip: row.last_used_ip,
    request_count: row.request_count,
    previous_value_expires_at: toIso(row.previous_expires_at),
    created_by: { type: row.created_by_type, id: row.created_by_id },
    created_at: toIso(row.created_at),
    updated_at: toIso(row.updated_at),
  };
}

