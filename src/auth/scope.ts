/**
 * Channel resolution (docs/api-reference.md §1.6): the one place that turns a principal plus the request's channel
 * selectors (`broadcast_channel_id`, `channel`, `target.channels`) into the target set T.
 * Services receive the resulting Scope and filter every query by it.
 */
import type { Channel } from "@/db/schema";
import { AppError, forbidden, notFound, unprocessable } from "@/lib/errors";
import type { AuthCache } from "./cache";
import type { Principal } from "./principal";

export interface Scope {
  principal: Principal;
  /** T: the channels this request may touch, ascending by id. */
  readonly channelIds: readonly number[];
  /** Was T narrowed by an explicit selector? */
  readonly explicit: boolean;
  has(channelId: number): boolean;
  /** The single channel of T. @throws 422 when |T| ≠ 1 (403 when the token has no channel left). */
  one(): Channel;
  channel(id: number): Channel | undefined;
  channelBySlug(slug: string): Channel | undefined;
}

export interface Selectors {
  broadcast_channel_id?: unknown;
  channel?: unknown;
  target?: unknown;
}

/**
 * The selector values as given (none present = empty). `channel` must be a slug, or, on routes
 * whose resource wrapper it is (`/channels`), an object — never silently dropped, which would widen
 * the target set to every channel of the token.
 * @throws 422 on malformed values.
 */
function readSelectors(input: Selectors, channelIsWrapper: boolean): { values: string[]; kind: "id" | "slug" }[] {
  const out: { values: string[]; kind: "id" | "slug" }[] = [];
  const id = input.broadcast_channel_id;
  if (id !== undefined && id !== null && id !== "") {
    if (!(typeof id === "number" && Number.isSafeInteger(id)) && !(typeof id === "string" && /^\d+$/.test(id))) {
      throw unprocessable("Broadcast channel id is invalid", { errors: { broadcast_channel_id: ["is invalid"] } });
    }
    out.push({ values: [String(id)], kind: "id" });
  }
  const channel = input.channel;
  if (typeof channel === "string") {
    if (channel !== "") out.push({ values: [channel], kind: "slug" });
  } else if (channel !== undefined && channel !== null && !(channelIsWrapper && typeof channel === "object" && !Array.isArray(channel))) {
    throw unprocessable("Channel is invalid", { errors: { channel: ["must be a channel slug"] } });
  }
  const target = input.target;
  if (target !== undefined && target !== null) {
    const list = typeof target === "object" && !Array.isArray(target) ? (target as { channels?: unknown }).channels : undefined;
    const arr = typeof list === "string" ? [list] : list;
    if (!Array.isArray(arr) || arr.length === 0 || arr.some((s) => typeof s !== "string" || s === "")) {
      throw unprocessable("Target channels is invalid", { errors: { "target.channels": ["must be a non-empty array of channel slugs"] } });
    }
    out.push({ values: [...new Set(arr as string[])], kind: "slug" });
  }
  return out;
}

/**
 * Resolves T for a principal and the request's selectors.
 * @throws 403 selector outside a channel-scoped token's assignment (values as given, existing or not),
 *         404 unknown channel for scope `all`, 422 conflicting selectors.
 */
export function resolveScope(principal: Principal, input: Selectors, cache: AuthCache, channelIsWrapper = false): Scope {
  const selectors = readSelectors(input, channelIsWrapper);
  let ids: readonly number[];
  if (selectors.length === 0) {
    ids = principal.scope === "all" ? cache.channelIds() : principal.channelIds;
  } else {
    const sets = selectors.map((s) => resolveSelector(principal, s, cache));
    const key = (xs: number[]) => [...xs].sort((a, b) => a - b).join(",");
    if (sets.some((s) => key(s) !== key(sets[0]))) {
      throw unprocessable("Conflicting channel selectors", {
        errors: { channel: ["broadcast_channel_id, channel and target.channels must name the same channels"] },
      });
    }
    ids = [...new Set(sets[0])].sort((a, b) => a - b);
  }
  return makeScope(principal, ids, selectors.length > 0, cache);
}

function resolveSelector(principal: Principal, selector: { values: string[]; kind: "id" | "slug" }, cache: AuthCache): number[] {
  return lookupChannels(principal, cache, selector.values.map((value) => ({ by: selector.kind, value }))).map((c) => c.id);
}

/** A channel as the caller named it: `by` says whether `value` is an id (digits) or a slug. */
export interface ChannelRef {
  by: "id" | "slug";
  value: string;
}

/** `/channels/:id_or_slug`: digits name an id, anything else a slug. */
export const channelRef = (idOrSlug: string): ChannelRef => ({ by: /^\d+$/.test(idOrSlug) ? "id" : "slug", value: idOrSlug });

/**
 * The one lookup of channels named by id or slug, for selectors, paths and body fields alike.
 * @throws 403 when a channel-scoped token names any channel outside its assignment (values as given,
 *         existing or not: no existence oracle), 404 `Channel not found: …` for scope `all` naming
 *         channels that do not exist.
 */
export function lookupChannels(principal: Principal, cache: AuthCache, refs: readonly ChannelRef[]): Channel[] {
  const found = refs.map((r) => (r.by === "id" ? cache.channelById(Number(r.value)) : cache.channelBySlug(r.value)));
  const named = (keep: (c: Channel | undefined) => boolean) => refs.filter((_, i) => keep(found[i])).map((r) => r.value);
  if (principal.scope === "channels") {
    const outside = named((c) => !c || !principal.channelIds.includes(c.id));
    if (outside.length > 0) throw forbidden(`Token is not scoped to channel(s): ${outside.join(", ")}`);
  } else {
    const missing = named((c) => !c);
    if (missing.length > 0) throw new AppError("not_found", `Channel not found: ${missing.join(", ")}`);
  }
  return found as Channel[];
}

export function makeScope(principal: Principal, ids: readonly number[], explicit: boolean, cache: AuthCache): Scope {
  return new RequestScope(principal, ids, explicit, cache);
}

/** A class rather than closures: one is built per request. */
class RequestScope implements Scope {
  constructor(
    readonly principal: Principal,
    readonly channelIds: readonly number[],
    readonly explicit: boolean,
    private readonly cache: AuthCache,
  ) {}

  has(id: number): boolean {
    return this.channelIds.includes(id);
  }

  channel(id: number): Channel | undefined {
    return this.has(id) ? this.cache.channelById(id) : undefined;
  }

  channelBySlug(slug: string): Channel | undefined {
    const c = this.cache.channelBySlug(slug);
    return c && this.has(c.id) ? c : undefined;
  }

  one(): Channel {
    const { principal, channelIds, cache } = this;
    if (channelIds.length === 1) {
      const c = cache.channelById(channelIds[0]);
      if (c) return c;
    }
    if (principal.scope === "channels" && principal.channelIds.length === 0) throw forbidden("Token is not scoped to any channel");
    const reach = (principal.scope === "all" ? cache.channels() : principal.channelIds.map((id) => cache.channelById(id)!))
      .filter(Boolean)
      .map((c) => c.slug)
      .join(", ");
    throw unprocessable(
      `This request needs exactly one target channel; this token can reach: ${reach}. Pass broadcast_channel_id, channel or target.channels.`,
      { errors: { channel: ["must identify exactly one channel"] } },
    );
  }
}

/** Lists need at least the token's channels to exist. @throws 403 when a channel-scoped token has none left. */
export function requireSomeChannel(scope: Scope): void {
  if (scope.principal.scope === "channels" && scope.principal.channelIds.length === 0) throw forbidden("Token is not scoped to any channel");
}

/** 404 for a record whose channel is outside T (no existence oracle). */
export function assertInScope(scope: Scope, channelId: number | null, resource: string): void {
  if (channelId === null || !scope.has(channelId)) throw notFound(resource);
}
