/**
 * The durable outbox (the `messages` table) and each message's lifecycle: enqueue (one or many, in
 * the caller's transaction), claim (one `UPDATE … RETURNING`, priority lane first, bulk lane fair
 * between channels), release leases after a crash, and wake mail that waits for a route. Outcomes
 * are written by outcomes.ts. Every writer calls `notify()` after its commit so the delivery job
 * wakes at once.
 */
import type { Database, RawStatement } from "@/db/client";
import type { Message, NewMessage } from "@/db/schema";
import { randomBase62 } from "@/lib/tokens";
import { NO_ROUTE_RECHECK_MS, type RouteCheck } from "./destinations";

const BULK_KINDS = new Set<Message["kind"]>(["broadcast", "sequence"]);
/** Rows per INSERT statement: 32 columns × 400 rows stays far below SQLite's variable limit. */
const ROWS_PER_STATEMENT = 400;

/** Columns written by enqueue, in statement order; everything else keeps its column default. */
const COLUMNS = [
  "id", "channel_id", "kind", "lane", "source", "status", "recipient_email", "recipient_name", "subscriber_id", "subject", "body",
  "preheader", "reply_to", "template_id", "data", "html_body", "include_unsubscribe_link", "track_opens", "track_clicks", "raw_mime", "raw_of",
  "from_email", "server_ids", "message_id", "broadcast_id", "sequence_id", "sequence_step_id", "queue_at", "next_attempt_at", "waiting_for", "created_at", "updated_at",
] as const satisfies readonly (keyof Message)[];

/** What a feature gives to enqueue: the lane, ids and timestamps are the outbox's. */
export type OutboxInput = Pick<NewMessage, Exclude<(typeof COLUMNS)[number], "id" | "lane" | "message_id" | "next_attempt_at" | "waiting_for" | "created_at" | "updated_at" | "queue_at">> & {
  message_id?: string;
  /** When it may first be sent (default: now). */
  queue_at?: number;
};

/** A stored row as SQLite returns it (JSON and booleans not yet decoded). */
type RawRow = Record<string, unknown>;

export class Outbox {
  private readonly host: string;
  private readonly inserts = new Map<number, RawStatement>();
  private readonly claimStmt;
  private readonly wakeChannel;
  private readonly wakeAll;
  private readonly busyChannels;
  private readonly lastId;
  /** Set by the composition root: wakes the delivery job (in this thread or the delivery thread). */
  notify: () => void = () => {};
  /** Set by the composition root: wakes the job that queues mail deferred by the quota (quota-release.ts). */
  quotaFreed: () => void = () => {};
  /**
   * Set by the composition root: mail due now that no route can take is inserted already waiting
   * (as the delivery job would mark it), so it is not claimed and rewritten first. Null: every
   * queued row is claimable.
   */
  routes: RouteCheck | null = null;

  constructor(private readonly database: Database, publicUrl: string) {
    this.host = new URL(publicUrl).hostname;
    const raw = database.raw;
    const claimable = "next_attempt_at IS NOT NULL AND lease_expires_at IS NULL AND next_attempt_at <= ?2";
    this.claimStmt = raw.prepare(
      `UPDATE messages SET lease_expires_at = ?1 WHERE id IN (
         SELECT id FROM (SELECT id FROM messages WHERE lane = 'priority' AND ${claimable} ORDER BY next_attempt_at LIMIT ?3)
         UNION ALL
         SELECT m.id FROM channels c JOIN messages m ON m.id IN (
           SELECT id FROM messages WHERE lane = 'bulk' AND channel_id = c.id AND ${claimable} ORDER BY next_attempt_at LIMIT ?4)
       ) RETURNING *`,
    );
    // `waiting_for` stays until the message is sent or waits for another reason: a held transactional
    // woken by a route change and held again must not announce `email.send_delayed` a second time.
    const waiting = "UPDATE messages SET next_attempt_at = ?1 WHERE waiting_for IS NOT NULL AND lease_expires_at IS NULL";
    this.wakeChannel = raw.prepare(`${waiting} AND channel_id = ?2`);
    this.wakeAll = raw.prepare(waiting);
    // Only channels with due bulk mail share the bulk slice (one index probe per channel).
    this.busyChannels = raw.prepare(
      `SELECT count(*) AS n FROM channels c WHERE EXISTS (SELECT 1 FROM messages WHERE lane = 'bulk' AND channel_id = c.id AND ${claimable.replaceAll("?2", "?1")})`,
    );
    this.lastId = raw.prepare("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0), coalesce((SELECT max(id) FROM messages), 0)) AS id");
  }

  /** `<id.random@host>` (§4), where host is the public URL's host name. */
  private messageId(id: number): string {
    return `<${id}.${randomBase62(8).toLowerCase()}@${this.host}>`;
  }

  /**
   * Inserts rows with multi-row statements, inside the caller's write transaction (the caller charges
   * the quota there and calls `notify()` after the commit). Ids are assigned here, before the insert,
   * so each row is written once with its final Message-ID. Returns the stored messages in input order.
   */
  enqueue(rows: readonly OutboxInput[], now: number): Message[] {
    // The write lock is held (BEGIN IMMEDIATE) and only this process inserts messages: the ids are ours.
    let next = (this.lastId.get() as { id: number }).id + 1;
    const out = rows.map((input) => this.toMessage(input, next++, now));
    for (let start = 0; start < out.length; start += ROWS_PER_STATEMENT) {
      const chunk = out.slice(start, start + ROWS_PER_STATEMENT);
      const values: unknown[] = [];
      for (const m of chunk) for (const c of COLUMNS) values.push(toSql(m[c]));
      this.insertStatement(chunk.length).run(...values);
    }
    return out;
  }

  /**
   * Leases up to `priority` due rows of the priority lane and up to `bulk` of the bulk lane, shared
   * fairly between the channels that have bulk mail due (each gets an equal slice), in one statement.
   */
  claim(now: number, leaseUntil: number, priority: number, bulk: number): Message[] {
    const channels = bulk > 0 ? Math.max(1, (this.busyChannels.get(now) as { n: number }).n) : 1;
    const perChannel = bulk > 0 ? Math.ceil(bulk / channels) : 0;
    return (this.claimStmt.all(leaseUntil, now, priority, perChannel) as RawRow[]).map(fromSql);
  }

  /** Whether a row just enqueued gives the delivery job something to claim now (the claim's condition; it has no lease yet). */
  dueNow(m: Pick<Message, "next_attempt_at">, now: number): boolean {
    return m.next_attempt_at !== null && m.next_attempt_at <= now;
  }

  /** Clears leases left by a process that stopped mid-send (start-up; this process is the only sender). */
  releaseLeases(): number {
    return this.database.raw.prepare("UPDATE messages SET lease_expires_at = NULL WHERE lease_expires_at IS NOT NULL").run().changes;
  }

  /**
   * A route appeared (a server was added or activated, capture started): mail that waits for one
   * becomes due now, on one channel or all, and the delivery job is woken.
   */
  routesChanged(channelId: number | null, now: number): void {
    this.routes?.invalidate();
    const woken = channelId === null ? this.wakeAll.run(now) : this.wakeChannel.run(now, channelId);
    if (woken.changes) this.notify();
  }

  private toMessage(input: OutboxInput, id: number, now: number): Message {
    const queueAt = input.queue_at ?? now;
    const noRoute = input.status === "queued" && queueAt <= now ? (this.routes?.noRoute(input.channel_id, input.kind, input.server_ids ?? null, now) ?? null) : null;
    return {
      id, recipient_name: null, subscriber_id: null, subject: null, body: null, preheader: null, reply_to: null, template_id: null,
      data: null, html_body: null, include_unsubscribe_link: false, track_opens: false, track_clicks: false, raw_mime: null, raw_of: null, from_email: null,
      server_ids: null, broadcast_id: null, sequence_id: null, sequence_step_id: null, email_server_id: null, attempts: 0, lease_expires_at: null,
      sent_at: null, failed_at: null, failure_reason: null, smtp_response: null, opened_at: null, clicked_at: null,
      ...input,
      lane: BULK_KINDS.has(input.kind) ? "bulk" : "priority",
      message_id: input.message_id ?? this.messageId(id),
      queue_at: queueAt,
      // Only queued mail is claimable (a pending confirmation waits for its subscriber); mail no
      // route can take waits as the delivery job would have marked it.
      next_attempt_at: input.status !== "queued" ? null : noRoute ? now + NO_ROUTE_RECHECK_MS : queueAt,
      waiting_for: noRoute,
      created_at: now,
      updated_at: now,
    } as Message;
  }

  private insertStatement(rows: number) {
    let stmt = this.inserts.get(rows);
    if (!stmt) {
      const tuple = `(${COLUMNS.map(() => "?").join(", ")})`;
      stmt = this.database.raw.prepare(`INSERT INTO messages (${COLUMNS.join(", ")}) VALUES ${Array(rows).fill(tuple).join(", ")}`);
      // Full chunks and small batches repeat; odd remainders of large fan-outs are not worth keeping.
      if (rows === ROWS_PER_STATEMENT || rows <= 16) this.inserts.set(rows, stmt);
    }
    return stmt;
  }
}

const JSON_COLUMNS = new Set(["data", "server_ids"]);
const BOOL_COLUMNS = new Set(["include_unsubscribe_link", "track_opens", "track_clicks"]);
/** Booleans where null means "not decided" (kept null). */
const NULLABLE_BOOL_COLUMNS = ["html_body"] as const;

function toSql(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "object" && !(value instanceof Uint8Array)) return JSON.stringify(value);
  return value;
}

/** Decodes a row returned by a raw statement the way drizzle would (JSON text, 0/1 booleans, blobs). */
export function fromSql(row: RawRow): Message {
  for (const c of JSON_COLUMNS) if (typeof row[c] === "string") row[c] = JSON.parse(row[c] as string);
  for (const c of BOOL_COLUMNS) row[c] = row[c] === 1 || row[c] === true;
  for (const c of NULLABLE_BOOL_COLUMNS) if (row[c] !== null) row[c] = row[c] === 1 || row[c] === true;
  if (row.raw_mime instanceof Uint8Array && !Buffer.isBuffer(row.raw_mime)) row.raw_mime = Buffer.from(row.raw_mime);
  return row as unknown as Message;
}
