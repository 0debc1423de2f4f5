/**
 * What the confirmation page (§10.2, §16 `/c/<token>`) reads and does: the state a signed link is
 * in, and the confirmation itself. A token that does not verify, names no subscriber (or a redacted
 * one) or has expired changes nothing.
 */
import { and, eq } from "drizzle-orm";
import { subscribers, templates, type Channel, type Subscriber } from "@/db/schema";
import { linkSecret } from "@/db/settings";
import type { Deps } from "@/deps";
import { automationAfterConfirmation } from "@/features/hosted_forms/welcome";
import { confirmSubscriber } from "@/features/subscribers/double-opt-in";
import { verifyLink } from "@/lib/links";

/** The page states of §10.2, plus `pending` (the Confirm button). */
export type LinkState = "invalid" | "expired" | "already_confirmed" | "pending";

export type ConfirmLink =
  | { state: "invalid" | "expired"; channel: Channel | null; subscriber: null }
  | { state: "already_confirmed" | "pending"; channel: Channel; subscriber: Subscriber };

const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Reads a `/c/` token: payload `[subscriber_id, expires_unix, transactional_id|0]`. A confirmed
 * subscriber sees `already_confirmed` even on an old link (nothing left to do); otherwise an
 * expired link is `expired`.
 */
export function readConfirmLink(deps: Deps, token: string, now: number): ConfirmLink {
  const payload = verifyLink(linkSecret(deps), "confirm", token);
  if (!payload || payload.length !== 3 || !payload.every(isId)) return { state: "invalid", channel: null, subscriber: null };
  const [subscriberId, expiresUnix] = payload as number[];
  const s = deps.db.select().from(subscribers).where(eq(subscribers.id, subscriberId!)).get();
  const channel = s ? deps.auth.cache.channelById(s.channel_id) : undefined;
  if (!s || s.redacted_at !== null || !channel) return { state: "invalid", channel: null, subscriber: null };
  if (s.confirmed_at !== null) return { state: "already_confirmed", channel, subscriber: s };
  if (expiresUnix! * 1000 <= now) return { state: "expired", channel, subscriber: null };
  return { state: "pending", channel, subscriber: s };
}

/**
 * Confirms the link's (pending) subscriber, wakes delivery for the released transactionals, and
 * runs the automation of the form that asked (its sequences and welcome email).
 */
export function confirmByLink(deps: Deps, channel: Channel, s: Subscriber): void {
  if (confirmSubscriber(deps, channel, s) > 0) deps.outbox.notify();
  automationAfterConfirmation(deps, channel, s);
}

export interface PageText {
  heading: string;
  body: string;
}

const DEFAULT_PAGES: Record<LinkState | "confirmed", PageText> = {
  pending: { heading: "Confirm your subscription", body: "Press the button to confirm that you want to receive these emails." },
  confirmed: { heading: "Subscription confirmed", body: "Thank you. Your subscription is confirmed." },
  already_confirmed: { heading: "Already confirmed", body: "Your subscription was already confirmed. There is nothing more to do." },
  expired: { heading: "Link expired", body: "This confirmation link has expired. Please sign up again to get a new one." },
  invalid: { heading: "Not found", body: "This link is not valid." },
};

/**
 * Heading and text of a page state: the channel's default confirmation template's
 * `confirmation_page_settings` (§8) where set, else the built-in text.
 */
export function pageText(deps: Deps, channel: Channel | null, state: LinkState | "confirmed"): PageText {
  const fallback = DEFAULT_PAGES[state];
  if (!channel || state === "pending") return fallback;
  const t = deps.db
    .select({ pages: templates.confirmation_page_settings })
    .from(templates)
    .where(and(eq(templates.channel_id, channel.id), eq(templates.default_confirmation, true)))
    .get();
  const own = t?.pages?.[state] as Partial<PageText> | undefined;
  return { heading: own?.heading || fallback.heading, body: own?.body || fallback.body };
}
