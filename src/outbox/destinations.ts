/**
 * Where a channel's mail can go at all (§9), before any server's limits: its active servers for the
 * purpose, local capture when it has none, or nowhere (the mail waits for a route). The delivery
 * job's Router adds limits and back-off on top; the outbox asks the same question when it inserts,
 * so mail that nothing can take waits from the start instead of being claimed and rewritten first.
 */
import type { Config } from "@/config";
import type { Db } from "@/db/client";
import type { EmailServer, Message } from "@/db/schema";
import { serversForPurpose } from "@/features/email_servers/service";
import type { Purpose } from "@/features/email_servers/model";

export const PURPOSE: Record<Message["kind"], Purpose> = { transactional: "transactionals", system: "transactionals", broadcast: "broadcasts", sequence: "sequences" };

/**
 * Mail that waits for a route is looked at again this often even if no wake comes: a safety net (every
 * server change and capture's start wake it at once), and the 72 h limit is checked then. Rare, since
 * each look claims and rewrites the row on the API's thread (~30–50 µs a row: a backlog of 100,000
 * looked at every minute is ~5–8 % of a core).
 */
export const NO_ROUTE_RECHECK_MS = 15 * 60_000;

/** Why mail waits because nothing can take it (a new route wakes it: `outbox.routesChanged`). */
export type NoRoute = "no_active_server" | "capture_unavailable";

export type Destination = { kind: "capture" } | { kind: "servers"; active: EmailServer[] } | { kind: "wait"; reason: NoRoute };

/**
 * Capture only when the channel has no server for the purpose at all (§9): failing or inactive
 * servers keep mail queued. `servers` is read only when it matters (not under MAILROOM_CAPTURE_ALL).
 */
export function destination(config: Readonly<Config>, capturePort: number | undefined, servers: () => EmailServer[], serverIds: readonly number[] | null): Destination {
  const capture: Destination = config.capture && capturePort ? { kind: "capture" } : { kind: "wait", reason: "capture_unavailable" };
  if (config.captureAll) return capture;
  const all = servers();
  if (all.length === 0) return capture;
  const narrowed = serverIds?.length ? all.filter((s) => serverIds.includes(s.id)) : [];
  const active = (narrowed.length ? narrowed : all).filter((s) => s.active);
  return active.length ? { kind: "servers", active } : { kind: "wait", reason: "no_active_server" };
}

/** How long a channel's server list is reused before the table is read again (writes here also invalidate it). */
const SERVER_LIST_TTL_MS = 1000;

/** The channels' server lists per purpose, cached briefly (a lookup per message would be a query per message). */
export class ServerLists {
  private readonly lists = new Map<string, { at: number; servers: EmailServer[] }>();

  constructor(private readonly db: Db) {}

  get(channelId: number, purpose: Purpose, now: number): EmailServer[] {
    const key = `${channelId}:${purpose}`;
    const hit = this.lists.get(key);
    if (hit && now - hit.at < SERVER_LIST_TTL_MS && now >= hit.at) return hit.servers;
    const servers = serversForPurpose(this.db, channelId, purpose);
    this.lists.set(key, { at: now, servers });
    return servers;
  }

  /** Forgets every list (a server was added, changed or removed). */
  invalidate(): void {
    this.lists.clear();
  }
}

/** Answers, for the outbox's inserts, whether any route can take a channel's mail now (main thread). */
export class RouteCheck {
  private readonly lists: ServerLists;

  constructor(
    db: Db,
    private readonly config: Readonly<Config>,
    private readonly capturePort: () => number | undefined,
  ) {
    this.lists = new ServerLists(db);
  }

  /** Null when some route exists (limits may still hold the mail back: the Router decides that). */
  noRoute(channelId: number, kind: Message["kind"], serverIds: readonly number[] | null, now: number): NoRoute | null {
    const d = destination(this.config, this.capturePort(), () => this.lists.get(channelId, PURPOSE[kind], now), serverIds);
    return d.kind === "wait" ? d.reason : null;
  }

  invalidate(): void {
    this.lists.invalidate();
  }
}
