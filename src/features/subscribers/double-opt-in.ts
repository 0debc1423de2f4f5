/**
 * Double opt-in (docs/api-reference.md §3, §4, §10.2): asking makes the subscriber `pending` (not eligible) and
 * queues a confirmation email (kind `system`, priority lane) carrying the signed `/c/<token>` link;
 * confirming sets `confirmed_at`, subscribes and releases the transactionals held for it. The public
 * page that confirms is the confirmation feature; this is the part the send paths share.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { messages, templates, type Channel, type Subscriber } from "@/db/schema";
import { linkSecret } from "@/db/settings";
import type { Deps } from "@/deps";
import { chargeIfRoom } from "@/features/channels/quota";
import { validationError } from "@/lib/errors";
import { signLink } from "@/lib/links";
import type { DoubleOptIn } from "./fields";
import { confirmationStatus } from "./model";
import { applyPatch, upsertSubscriber, type SubscriberValues, type UpsertResult } from "./service";
import { atomically } from "./store";

/** Confirmation links (and the transactionals they hold) live 7 days (§16, §20). */
export const CONFIRMATION_TTL_MS = 7 * 24 * 3600 * 1000;
/** Held transactionals, written as a literal so SQLite uses the partial index `messages_held_idx`. */
export const HELD = sql`${messages.status} = 'pending_confirmation'`;
const DEFAULT_BUTTON = "Confirm subscription";
const DEFAULT_SUBJECT = "Please confirm your subscription to {{ channel.name | escape }}";
const DEFAULT_BODY =
  "<p>Please confirm that you want to receive email from {{ channel.name | escape }}.</p>" +
  "<p>If you did not ask for this, ignore this email and nothing will be sent to you.</p>";

/** The `/c/<token>` URL: payload `[subscriber_id, expires_unix, transactional_id|0]`, signed for `confirm`. */
export function confirmationUrl(deps: Deps, subscriberId: number, transactionalId: number, now: number): string {
  const expires = Math.floor((now + CONFIRMATION_TTL_MS) / 1000);
  return `${deps.config.publicUrl}/c/${signLink(linkSecret(deps), "confirm", [subscriberId, expires, transactionalId])}`;
}

export interface ConfirmationContent {
  subject: string;
  body: string;
  preheader: string | null;
  templateId: number | null;
}

/**
 * The confirmation email's content: the given template, else the channel's default confirmation
 * template, else the built-in one. A body without `{{ confirmation_url }}` gets a button with the
 * template's `confirmation_text`, so every confirmation mail can be confirmed.
 * @throws 422 when `templateId` is not a template of the channel.
 */
export function confirmationContent(deps: Deps, channel: Channel, templateId: number | null): ConfirmationContent {
  const where = templateId !== null
    ? and(eq(templates.id, templateId), eq(templates.channel_id, channel.id))
    : and(eq(templates.channel_id, channel.id), eq(templates.default_confirmation, true));
  const t = deps.db.select().from(templates).where(where).orderBy(desc(templates.id)).get();
  if (templateId !== null && !t) throw validationError({ confirmation_template_id: ["does not exist in this channel"] });
  let body = t?.body?.trim() ? t.body : DEFAULT_BODY;
  if (!/\{\{-?\s*confirmation_url\b/.test(body)) {
    const label = (t?.confirmation_text ?? DEFAULT_BUTTON).replace(/[{}%<>&"]/g, "");
    const button = `<p><a href="{{ confirmation_url }}" style="display:inline-block;padding:.6rem 1.4rem;background:#1a56db;color:#fff;text-decoration:none;border-radius:4px">${label}</a></p>`;
    body = /<\/body>/i.test(body) ? body.replace(/<\/body>/i, `${button}</body>`) : body + button;
  }
  return { subject: t?.subject?.trim() ? t.subject : DEFAULT_SUBJECT, body, preheader: t?.preheader ?? null, templateId: t?.id ?? null };
}

export type SystemMailStatus = "queued" | "deferred";

/**
 * Charges a system email's one quota unit, or — the month's quota being used up — leaves it
 * uncharged to wait as `deferred` (§1.8) until the outbox's quota-release job queues it.
 */
export function systemMailStatus(tx: Db, channel: Channel, now: number): SystemMailStatus {
  return chargeIfRoom(tx, channel, 1, now) ? "queued" : "deferred";
}

/** The part of a system email (priority lane) to subscriber `s` that every such email shares. */
export function systemMailTo(channel: Channel, s: Subscriber, source: string, status: SystemMailStatus) {
  const name = [s.first_name, s.last_name].filter((p) => p?.trim()).join(" ");
  return { channel_id: channel.id, kind: "system", source, status, recipient_email: s.email, recipient_name: name || null, subscriber_id: s.id } as const;
}

/**
 * Queues the confirmation email for `s` inside the caller's transaction (quota charged by the
 * caller) and returns its confirmation URL. The URL travels in the message's `data`, where compose
 * reads `{{ confirmation_url }}` from. A `deferred` one gets no URL yet: the quota-release job adds
 * it (`withConfirmationUrl`) when it queues the mail, so the link's 7 days count from then.
 */
export function enqueueConfirmation(
  deps: Deps, tx: Db, channel: Channel, s: Subscriber, doi: DoubleOptIn, content: ConfirmationContent, transactionalId: number, now: number,
  status: SystemMailStatus = "queued",
): string | null {
  const url = status === "queued" ? confirmationUrl(deps, s.id, transactionalId, now) : null;
  deps.outbox.enqueue([{
    ...systemMailTo(channel, s, "confirmation", status),
    subject: content.subject,
    body: content.body,
    preheader: content.preheader,
    reply_to: doi.replyTo,
    template_id: content.templateId,
    data: { ...(url ? { confirmation_url: url } : {}), ...(doi.formId ? { form_id: doi.formId } : {}) },
    include_unsubscribe_link: doi.includeUnsubscribeLink,
  }], now);
  return url;
}

/** The `data` of a deferred confirmation email being queued at `now`: its link, valid 7 days from now. */
export function withConfirmationUrl(deps: Deps, data: Record<string, unknown> | null, subscriberId: number, now: number): Record<string, unknown> {
  return { ...data, confirmation_url: confirmationUrl(deps, subscriberId, 0, now) };
}

/**
 * POST /subscribers with `double_opt_in`: the upsert, and — unless the subscriber is already
 * confirmed (§3 Compat) — `pending` plus a confirmation email, in one transaction with the quota
 * (one unit). A full quota defers the email (`confirmationUrl` null: no link exists yet). The
 * caller wakes the outbox after the commit when there is a URL.
 * @throws 422 unknown confirmation template.
 */
export function subscribeWithConfirmation(
  deps: Deps, channel: Channel, values: SubscriberValues & { email: string }, doi: DoubleOptIn,
): UpsertResult & { confirmationUrl: string | null } {
  const content = confirmationContent(deps, channel, doi.templateId);
  return atomically(deps, undefined, (tx) => {
    const now = deps.clock.now();
    // A given confirmed_at (scope-all imports) means there is nothing to ask.
    const res = upsertSubscriber(deps, channel, values.confirmed_at === undefined ? { ...values, confirmation_sent_at: now } : values, tx);
    if (confirmationStatus(res.subscriber) !== "pending") return { ...res, confirmationUrl: null };
    const status = systemMailStatus(tx, channel, now);
    return { ...res, confirmationUrl: enqueueConfirmation(deps, tx, channel, res.subscriber, doi, content, 0, now, status) };
  });
}

/**
 * Confirms (idempotent): sets `confirmed_at`, subscribes (an unsubscribed subscriber who confirms
 * is resubscribed: the person asked for it), emits `subscriber.subscribed` and releases the
 * transactionals held for the subscriber. Returns how many were released (the caller wakes the outbox).
 */
export function confirmSubscriber(deps: Deps, channel: Channel, s: Subscriber): number {
  if (s.confirmed_at !== null) return 0;
  return atomically(deps, undefined, (tx) => {
    const now = deps.clock.now();
    // Only an unsubscribe is undone; a subscriber deactivated by the channel stays inactive.
    const resubscribe = s.unsubscribed_at !== null ? { unsubscribed_at: null, is_active: true } : {};
    applyPatch(deps, tx, channel, s, { confirmed_at: now, ...resubscribe }, now, ["subscriber.subscribed"]);
    return tx
      .update(messages)
      .set({ status: "queued", next_attempt_at: now, updated_at: now })
      .where(and(eq(messages.subscriber_id, s.id), HELD))
      .returning({ id: messages.id })
      .all().length;
  });
}
