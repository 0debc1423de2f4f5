/**
 * Where a message goes (§9): the channel's servers for its purpose (active, priority then id,
 * failover), or local capture when the channel has none. Each server's limits hold across ticks:
 * `emails_per_hour` as a rolling window (Broadcast's rule) plus optional per-minute and per-day caps,
 * and a back-off while the server answers "try later" (421/451/454).
 */
import type { Channel, EmailServer, Message } from "@/db/schema";
import type { Deps } from "@/deps";
import { destination, NO_ROUTE_RECHECK_MS, PURPOSE, ServerLists, type NoRoute } from "./destinations";
import type { CaptureTarget } from "./transport";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Sends recorded before this router started are re-read this often (they age out of the windows). */
const COUNT_REFRESH_MS = SECOND;
/** Back-off after a throttling reply: doubles from 5 s up to 5 min, reset by a successful send. */
const THROTTLE_MIN_MS = 5 * SECOND;
const THROTTLE_MAX_MS = 5 * MINUTE;
/** Why a message waits without an attempt (stored in `waiting_for`; a new route wakes it). */
export type WaitReason = NoRoute | "rate_limited" | "throttled";

export type Route =
  | { kind: "capture"; target: CaptureTarget }
  | { kind: "servers"; servers: EmailServer[] }
  | { kind: "wait"; reason: WaitReason; until: number };

interface ServerState {
  /** Sends recorded before this router started, per window, read at `countedAt`. */
  before: { minute: number; hour: number; day: number };
  countedAt: number;
  /**
   * When this router's accepted sends happened (ascending), kept for the server's longest limit
   * window. Counted here rather than read back: a batch's outcomes are recorded only when the whole
   * batch is done, and another tick must not see room that its sends already took.
   */
  accepted: number[];
  /** The server's longest limit window (0 = no limits: nothing kept). */
  keepMs: number;
  /** Sends reserved and not yet finished. */
  inFlight: number;
  backoffMs: number;
  pausedUntil: number;
}

/** Sends a server accepted in (?2, ?3): one range of its partial index `messages_server_sent_idx`. */
export const SENT_BEFORE_SQL = "SELECT count(*) AS n FROM messages WHERE email_server_id = ?1 AND sent_at > ?2 AND sent_at < ?3";

export const captureTarget = (port: number): CaptureTarget => ({ kind: "capture", host: "127.0.0.1", port });

export class Router {
  private readonly states = new Map<number, ServerState>();
  private readonly lists: ServerLists;
  private readonly sentBefore;
  private readonly startedAt: number;

  constructor(private readonly deps: Deps) {
    this.startedAt = deps.clock.now();
    this.lists = new ServerLists(deps.db);
    this.sentBefore = deps.database.raw.prepare(SENT_BEFORE_SQL);
  }

  /** The route of `m` now: capture, the servers to try in order (each one taken from its budget), or a wait. */
  route(m: Message, channel: Channel, now: number): Route {
    const d = destination(this.deps.config, this.deps.capturePort, () => this.lists.get(channel.id, PURPOSE[m.kind], now), m.server_ids);
    if (d.kind === "capture") return { kind: "capture", target: captureTarget(this.deps.capturePort!) };
    if (d.kind === "wait") return { kind: "wait", reason: d.reason, until: now + NO_ROUTE_RECHECK_MS };
    let wait: Route = { kind: "wait", reason: "rate_limited", until: Infinity };
    const open: EmailServer[] = [];
    for (const server of d.active) {
      const state = this.state(server.id);
      if (state.pausedUntil > now) {
        if (state.pausedUntil < wait.until) wait = { kind: "wait", reason: "throttled", until: state.pausedUntil };
        continue;
      }
      const roomAt = this.roomAt(server, state, now);
      if (roomAt > now) {
        if (roomAt < wait.until) wait = { kind: "wait", reason: "rate_limited", until: roomAt };
        continue;
      }
      open.push(server);
    }
    return open.length ? { kind: "servers", servers: open } : wait;
  }

  /** Reserves one message of the server's budgets (call before sending to it). */
  take(server: EmailServer): void {
    const state = this.state(server.id);
    state.inFlight++;
    state.keepMs = longestWindow(server);
  }

  /** Ends a reservation: `accepted` counts it against the server's limits. */
  release(serverId: number, accepted: boolean): void {
    const state = this.state(serverId);
    state.inFlight--;
    if (accepted) {
      if (state.keepMs) state.accepted.push(this.deps.clock.now());
      state.backoffMs = 0;
      state.pausedUntil = 0;
    }
  }

  /**
   * A "try later" reply: the server pauses, each round twice as long. Replies to sends that were
   * already in flight when the pause began belong to the same round and do not extend it.
   */
  throttled(serverId: number, now: number): number {
    const state = this.state(serverId);
    if (state.pausedUntil > now) return state.pausedUntil;
    state.backoffMs = Math.min(THROTTLE_MAX_MS, Math.max(THROTTLE_MIN_MS, state.backoffMs * 2));
    state.pausedUntil = now + state.backoffMs;
    return state.pausedUntil;
  }

  /** Why a server is slowed, for logs and status (null = not slowed). */
  pausedUntil(serverId: number): number | null {
    const until = this.states.get(serverId)?.pausedUntil ?? 0;
    return until > 0 ? until : null;
  }

  /** Forgets cached server lists (a server was added, changed or removed). */
  invalidate(): void {
    this.lists.invalidate();
  }

  private state(id: number): ServerState {
    let s = this.states.get(id);
    if (!s) this.states.set(id, (s = { before: { minute: 0, hour: 0, day: 0 }, countedAt: -Infinity, accepted: [], keepMs: 0, inFlight: 0, backoffMs: 0, pausedUntil: 0 }));
    return s;
  }

  /** When the server has room for one more message under every limit it has (now = room now). */
  private roomAt(server: EmailServer, state: ServerState, now: number): number {
    const limits = limitsOf(server);
    if (limits.every(([limit]) => limit === null)) return now;
    if (now - state.countedAt >= COUNT_REFRESH_MS || now < state.countedAt) {
      for (const [limit, window, span] of limits) {
        if (limit !== null) state.before[window] = now - span < this.startedAt ? (this.sentBefore.get(server.id, now - span, this.startedAt) as { n: number }).n : 0;
      }
      state.countedAt = now;
      state.accepted.splice(0, countAtOrBefore(state.accepted, now - longestWindow(server)));
    }
    let at = now;
    for (const [limit, window, span] of limits) {
      if (limit === null) continue;
      const sent = state.before[window] + state.accepted.length - countAtOrBefore(state.accepted, now - span);
      // The rolling window frees room as its oldest send ages out; a short wait is re-checked then.
      if (sent + state.inFlight >= limit) at = Math.max(at, now + Math.min(span / 12, MINUTE));
    }
    return at;
  }
}

function limitsOf(server: EmailServer): [number | null, keyof ServerState["before"], number][] {
  return [
    [server.emails_per_minute, "minute", MINUTE],
    [server.emails_per_hour, "hour", HOUR],
    [server.emails_per_day, "day", DAY],
  ];
}

/** The longest window the server limits (0 = no limits). */
function longestWindow(server: EmailServer): number {
  return server.emails_per_day !== null ? DAY : server.emails_per_hour !== null ? HOUR : server.emails_per_minute !== null ? MINUTE : 0;
}

/** How many of the ascending `times` are ≤ `t` (binary search). */
function countAtOrBefore(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
