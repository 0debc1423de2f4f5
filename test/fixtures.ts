/** Seed helpers for tests: tokens and channels created through the real services. */
import { createChannel } from "@/features/channels/service";
import { createToken, type TokenInput } from "@/features/access_tokens/service";
import { SYSTEM_ACTOR } from "@/features/audit_log/service";
import type { Permission, Preset } from "@/auth/permissions";
import type { Deps } from "@/deps";

const system = { principal: null, audit: { actor: SYSTEM_ACTOR } };

export interface TokenSpec {
  name?: string;
  preset?: Preset;
  permissions?: readonly Permission[];
  scope?: "channels" | "all";
  channels?: string[];
  allowed_ips?: string[];
  expires_at?: number | null;
  rate_limits?: { general_per_minute?: number | null; send_per_minute?: number | null };
}

/** Creates a token directly through the service and returns its value. */
export function createTestToken(deps: Deps, spec: TokenSpec): string {
  const input: TokenInput = {
    name: spec.name ?? "test token",
    scope: spec.scope ?? "channels",
    // The preset (if any) is the base; `permissions` are added to it.
    ...(spec.preset ? { preset: spec.preset } : {}),
    permissions: { changes: (spec.permissions ?? []).map((p) => [p, true] as [Permission, boolean]) },
    ...(spec.scope === "all" ? {} : { channels: spec.channels ?? ["default"] }),
    ...(spec.allowed_ips ? { allowed_ips: spec.allowed_ips } : {}),
    ...(spec.expires_at !== undefined ? { expires_at: spec.expires_at } : {}),
    ...(spec.rate_limits ? { rate_limits: spec.rate_limits } : {}),
  };
  return createToken(deps, system, input).value;
}

/** Creates a channel (slug derived from the name unless given). */
export function createTestChannel(deps: Deps, name: string, fields: Record<string, unknown> = {}) {
  return createChannel(deps, { name, ...fields }, { actor: SYSTEM_ACTOR });
}
