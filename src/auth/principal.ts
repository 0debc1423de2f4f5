import type { CachedToken } from "./cache";
import type { Permission } from "./permissions";

/** Where a request comes from; read lazily (resolving the peer address costs µs). */
export interface ClientInfo {
  readonly ip: string;
  readonly userAgent: string | null;
}

/** Who is calling: an access token, or a dashboard admin (scope all, every permission, no buckets). */
export interface Principal {
  kind: "token" | "admin";
  /** Token id or admin user id. */
  id: number;
  label: string;
  permissions: ReadonlySet<Permission>;
  scope: "channels" | "all";
  /** Assigned channels (scope `channels`); empty for scope `all`. */
  channelIds: readonly number[];
  token: CachedToken | null;
  /** Authenticated with the previous value during a refresh grace period. */
  viaPreviousValue: boolean;
  readonly ip: string;
  readonly userAgent: string | null;
}
