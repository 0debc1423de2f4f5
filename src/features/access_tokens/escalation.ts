/**
 * No escalation (docs/api-reference.md §2.5): a token can never see, mint or edit a token with more permissions,
 * channels, scope, rate limit, IP range or lifetime than its own. Dashboard admins and the CLI are
 * exempt (they are not token callers).
 */
import { cidrWithin, parseCidr, type ParsedCidr } from "@/auth/ip";
import type { Principal } from "@/auth/principal";
import { forbidden } from "@/lib/errors";
import type { Warning } from "@/input/fields";

/** The state of a token that the rules compare. */
export interface TokenShape {
  permissions: readonly string[];
  scope: "channels" | "all";
  channelIds: readonly number[];
  allowedIps: readonly string[];
  expiresAt: number | null;
  /** Effective limits (override ?? instance default); 0 = unlimited. */
  effective: { general: number; send: number };
}

export const deny = (axis: string, detail: string) => forbidden(`Cannot grant beyond this token's own access: ${axis} ${detail}`);

/**
 * Can `caller` see a token of this shape? Scope `all` sees all; a channel-scoped caller sees channel
 * tokens within its channels — not one left without any (its channels deleted), which belongs to
 * no tenant.
 */
export function canSee(caller: Principal, target: Pick<TokenShape, "scope" | "channelIds">): boolean {
  if (caller.kind !== "token" || caller.scope === "all") return true;
  return target.scope === "channels" && target.channelIds.length > 0 && target.channelIds.every((id) => caller.channelIds.includes(id));
}

/**
 * Checks every axis in order and throws on the first violation.
 * @throws 403 `Cannot grant beyond this token's own access: <axis> <detail>`
 */
export function assertWithinCaller(caller: Principal, caller_: TokenShape, target: TokenShape, slugOf: (id: number) => string): void {
  if (caller.kind !== "token") return;
  const extra = target.permissions.find((p) => !caller.permissions.has(p as never));
  if (extra) throw deny("permission", extra);
  if (caller_.scope === "channels") {
    if (target.scope === "all") throw deny("scope", "all");
    const outside = target.channelIds.find((id) => !caller_.channelIds.includes(id));
    if (outside !== undefined) throw deny("channel", slugOf(outside));
  }
  for (const bucket of ["general", "send"] as const) {
    const mine = caller_.effective[bucket];
    const theirs = target.effective[bucket];
    if (mine !== 0 && (theirs === 0 || theirs > mine)) throw deny("rate_limits", `${bucket}_per_minute ${theirs === 0 ? "unlimited" : theirs}`);
  }
  if (caller_.allowedIps.length > 0) {
    const mine = caller_.allowedIps.map(parseCidr).filter((c): c is ParsedCidr => c !== null);
    if (target.allowedIps.length === 0) throw deny("allowed_ips", "any");
    const outside = target.allowedIps.find((cidr) => {
      const parsed = parseCidr(cidr);
      return !parsed || !mine.some((m) => cidrWithin(parsed, m));
    });
    if (outside) throw deny("allowed_ips", outside);
  }
  if (caller_.expiresAt !== null && (target.expiresAt === null || target.expiresAt > caller_.expiresAt)) {
    throw deny("expires_at", target.expiresAt === null ? "never" : new Date(target.expiresAt).toISOString());
  }
}

/**
 * An omitted rate-limit override whose instance default exceeds the caller's limit is set to the
 * caller's value (`value_adjusted`). Returns the overrides to store.
 */
export function capOmittedRateLimits(
  caller: Principal,
  callerEffective: TokenShape["effective"],
  overrides: { general: number | null; send: number | null },
  defaults: { general: number; send: number },
  warnings: Warning[],
): { general: number | null; send: number | null } {
  if (caller.kind !== "token") return overrides;
  const out = { ...overrides };
  for (const bucket of ["general", "send"] as const) {
    const mine = callerEffective[bucket];
    const dflt = defaults[bucket];
    if (out[bucket] === null && mine !== 0 && (dflt === 0 || dflt > mine)) {
      out[bucket] = mine;
      warnings.push({ code: "value_adjusted", param: `rate_limits.${bucket}_per_minute`, message: `set to this token's own limit (${mine})` });
    }
  }
  return out;
}
