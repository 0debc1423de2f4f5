/**
 * The closed list of permission keys (docs/api-reference.md §2.2), presets and SendBolt scope aliases.
 * Write does not imply read.
 */
export const RESOURCES = [
  "broadcasts",
  "transactionals",
  "templates",
  "subscribers",
  "sequences",
  "segments",
  "email_servers",
  "opt_in_forms",
  "webhook_endpoints",
  "suppressions",
  "channels",
  "access_tokens",
] as const;

export const PERMISSIONS = [
  ...RESOURCES.flatMap((r) => [`${r}_read`, `${r}_write`] as const),
  "events_read",
  "reputation_read",
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const PERMISSION_SET: ReadonlySet<string> = new Set(PERMISSIONS);
export const isPermission = (name: string): name is Permission => PERMISSION_SET.has(name);

export const PRESETS = {
  all: [...PERMISSIONS],
  read_only: PERMISSIONS.filter((p) => p.endsWith("_read")),
  none: [],
  transactional: ["transactionals_read", "transactionals_write"],
} as const satisfies Record<string, readonly Permission[]>;
export type Preset = keyof typeof PRESETS;
export const isPreset = (name: string): name is Preset => Object.hasOwn(PRESETS, name);

/** SendBolt aliases whose resource name differs from ours; `<resource>:read|write` covers the rest. */
const ALIASES: Record<string, Permission> = {
  "transactional:send": "transactionals_write",
  "transactional:read": "transactionals_read",
  "transactional:write": "transactionals_write",
  "contacts:read": "subscribers_read",
  "contacts:write": "subscribers_write",
  "campaigns:read": "broadcasts_read",
  "campaigns:write": "broadcasts_write",
};

/** Canonical name for a permission or alias, or null when unknown. */
export function canonicalPermission(name: string): Permission | null {
  if (isPermission(name)) return name;
  if (Object.hasOwn(ALIASES, name)) return ALIASES[name];
  const m = /^([a-z_]+):(read|write)$/.exec(name);
  if (m && isPermission(`${m[1]}_${m[2]}`)) return `${m[1]}_${m[2]}` as Permission;
  return null;
}

/** `{name: bool}` over all 26 keys, in the canonical order. */
export function permissionMap(granted: ReadonlySet<string>): Record<Permission, boolean> {
  return Object.fromEntries(PERMISSIONS.map((p) => [p, granted.has(p)])) as Record<Permission, boolean>;
}

/** A permission set in canonical order. */
export const sortPermissions = (perms: Iterable<string>): Permission[] => {
  const set = new Set(perms);
  return PERMISSIONS.filter((p) => set.has(p));
};
