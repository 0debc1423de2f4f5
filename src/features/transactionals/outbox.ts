/**
 * The durable outbox (the `messages` table): every path that creates outbound mail — the
 * transactional API, SMTP submission, broadcasts, sequences — inserts rows here in the transaction
 * that charges the quota, then calls `deps.notifyOutbox()` after the commit. The send worker
 * (src/worker/send-worker.ts) is the only reader that changes their state afterwards.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { messages, subscribers, type Channel, type NewMessage } from "@/db/schema";
import type { Deps } from "@/deps";
import { chargeQuota, type QuotaState } from "@/features/channels/quota";
import { normalizeEmail } from "@/lib/email";
import { randomBase62 } from "@/lib/tokens";

/** `<id.rand@host>` where host is the public URL's host name (stable per instance). */
export function generateMessageId(publicUrl: string, id: number): string {
  return `<${id}.${randomBase62(8).toLowerCase()}@${new URL(publicUrl).hostname}>`;
}

export interface RawRecipient {
  /** RCPT TO address (as given). */
  email: string;
  /** Display name from a matching To/Cc header. */
  name: string | null;
}

export interface RawSubmission {
  recipients: readonly RawRecipient[];
  /** Final MIME (Bcc removed, Message-ID/Date added if missing) — delivered byte for byte. */
  raw: Buffer;
  /** The message's `Message-ID` header value, `<…>`. */
  messageId: string;
  /** Decoded Subject (display/status). */
  subject: string | null;
  /** HTML part, else text (display/status). */
  body: string | null;
  /** From header address (reputation uses its domain). */
  from: string | null;
  replyTo: string | null;
  source: "smtp";
}

export interface Enqueued {
  ids: number[];
  quota: QuotaState;
}

/** Subscriber ids of the channel by lower-cased email, for linking messages (§4 "Linking"). */
export function subscriberIdsByEmail(db: Db, channelId: number, emails: readonly string[]): Map<string, number> {
  const lower = [...new Set(emails.map(normalizeEmail))];
  if (lower.length === 0) return new Map();
  const rows = db
    .select({ id: subscribers.id, email: subscribers.email })
    .from(subscribers)
    .where(and(eq(subscribers.channel_id, channelId), inArray(subscribers.email, lower)))
    .all();
  return new Map(rows.map((r) => [r.email, r.id]));
}

/**
 * Enqueues one raw SMTP submission as one transactional per recipient (§17), charging one quota
 * unit per recipient in the same transaction. The raw MIME is stored once (first row) and shared.
 * Suppression and the `send` bucket are the caller's checks (per RCPT / at end of DATA).
 * @throws AppError 402 when the quota cannot cover every recipient (nothing is written).
 */
export function enqueueRawMessage(deps: Deps, channel: Channel, input: RawSubmission): Enqueued {
  const now = deps.clock.now();
  const result = deps.db.transaction((tx) => {
    const quota = chargeQuota(tx, channel, input.recipients.length, now);
    const linked = subscriberIdsByEmail(tx, channel.id, input.recipients.map((r) => r.email));
    const ids: number[] = [];
    let rawOf: number | null = null;
    for (const r of input.recipients) {
      const row = insertOutboxMessage(tx, {
        channel_id: channel.id,
        kind: "transactional",
        source: input.source,
        status: "queued",
        recipient_email: r.email,
        recipient_name: r.name,
        subscriber_id: linked.get(normalizeEmail(r.email)) ?? null,
        subject: input.subject,
        body: input.body,
        reply_to: input.replyTo,
        from_email: input.from,
        raw_mime: rawOf === null ? input.raw : null,
        raw_of: rawOf,
        message_id: input.messageId,
        queue_at: now,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      });
      rawOf ??= row.id;
      ids.push(row.id);
    }
    return { ids, quota };
  });
  deps.notifyOutbox();
  return result;
}

/**
 * Inserts one outbox row inside the caller's transaction (the caller charges the quota and calls
 * `deps.notifyOutbox()` after commit). `message_id` defaults to a generated one using the row id;
 * `next_attempt_at` defaults to `queue_at` (due immediately).
 */
export function insertOutboxMessage(tx: Db, row: Omit<NewMessage, "message_id"> & { message_id?: string; publicUrl?: string }) {
  const { publicUrl, ...values } = row;
  const inserted = tx
    .insert(messages)
    .values({ ...values, message_id: values.message_id ?? "", next_attempt_at: values.next_attempt_at ?? values.queue_at })
    .returning({ id: messages.id, message_id: messages.message_id })
    .get();
  if (!values.message_id) {
    const messageId = generateMessageId(publicUrl ?? "http://localhost", inserted.id);
    tx.update(messages).set({ message_id: messageId }).where(eq(messages.id, inserted.id)).run();
    return { id: inserted.id, message_id: messageId };
  }
  return inserted;
}
