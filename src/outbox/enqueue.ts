/**
 * Enqueue helpers shared by the paths that create mail from raw input: SMTP submissions (one row per
 * recipient, the MIME stored once), linked to subscribers by address (§4 "Linking").
 */
import type { Channel } from "@/db/schema";
import type { Deps } from "@/deps";
import { chargeQuota, type QuotaState } from "@/features/channels/quota";
import { subscriberIdsByEmail } from "@/features/subscribers/store";
import { normalizeEmail } from "@/lib/email";
import type { OutboxInput } from "./outbox";

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
    const row = (r: RawRecipient, rawOf: number | null): OutboxInput => ({
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
    });
    const [first, ...rest] = input.recipients;
    const [stored] = deps.outbox.enqueue([row(first!, null)], now);
    const others = deps.outbox.enqueue(rest.map((r) => row(r, stored!.id)), now);
    return { ids: [stored!.id, ...others.map((m) => m.id)], quota };
  });
  deps.outbox.notify();
  return result;
}
