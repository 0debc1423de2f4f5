/**
 * Turns an outbox row into what the transport sends: Liquid rendering of subject, preheader and
 * body (send-time, §8), the generated text alternative, the signed unsubscribe URL (§16), and the
 * per-target headers (List-Unsubscribe, X-Mailroom-Capture). Raw SMTP submissions pass through.
 */
import { randomBytes } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { perConnection, type Db } from "@/db/client";
import { messages, subscribers, type Channel, type EmailServer, type Message, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { escapeHtml } from "@/lib/html";
import { linkSecret } from "@/db/settings";
import { captureHeaderValue, signLink } from "@/lib/links";
import { broadcastContent, bulkContent, rewriteLinks, type BroadcastContent, type BulkContent } from "@/features/broadcasts/content";
import { returnPathFor } from "@/features/bounces/verp";
import { POSTMARK_METADATA_HEADER } from "@/features/provider_hooks/postmark";
import { buildVariables, RenderError, renderLiquid } from "@/lib/liquid";
import type { OutboundMessage, Target } from "./transport";

/** Content rendered once per attempt; headers are added per target. */
export type Composed =
  | { kind: "structured"; message: Extract<OutboundMessage, { kind: "structured" }>; subject: string; unsubscribeUrl: string }
  | { kind: "raw"; message: Extract<OutboundMessage, { kind: "raw" }>; subject: string | null };

const looksLikeHtml = (s: string) => /<[a-z!/][^>]*>/i.test(s);

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", apos: "'", nbsp: " " };

/** A readable text alternative of an HTML body: block tags → line breaks, links keep their URL. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(style|script|head)[\s\S]*?<\/\1>/gi, "")
    .replace(/<a\s[^>]*href=["']([^"']+)["'][^>]*>([\s\S]*?)<\/a>/gi, (_, href, text) => `${text} (${href})`)
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/(p|div|h[1-6]|li|tr|table|blockquote)>/gi, "\n")
    .replace(/<li[^>]*>/gi, "- ")
    .replace(/<[^>]+>/g, "")
    .replace(/&(amp|lt|gt|quot|#39|apos|nbsp);/g, (_, e) => ENTITIES[e])
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/**
 * Stands for the unsubscribe URL in the footer until the text part is made: URL characters only, so
 * htmlToText carries it through unchanged (as it carries the URL, whose entities it decodes back).
 */
const URL_MARK = `mailroom-unsubscribe-url-${randomBytes(8).toString("hex")}`;
const TEXT_CACHE_SIZE = 8;
const TEXT_CACHE_MAX_HTML = 256 * 1024;
const texts = new Map<string, string>();

/** htmlToText of bulk mail, remembered for the last few bodies (a broadcast's recipients share one until its footer's URL is put in). */
function sharedTextPart(html: string): string {
  let text = texts.get(html);
  if (text === undefined) {
    text = htmlToText(html);
    if (html.length <= TEXT_CACHE_MAX_HTML) {
      if (texts.size >= TEXT_CACHE_SIZE) texts.delete(texts.keys().next().value!);
      texts.set(html, text);
    }
  }
  return text;
}

/** The signed `/u/<token>` URL for a message (§16 payload `[subscriber_id, message_id]`). */
export function unsubscribeUrl(deps: Deps, m: Pick<Message, "id" | "subscriber_id">): string {
  return `${deps.config.publicUrl}/u/${signLink(linkSecret(deps), "unsub", [m.subscriber_id ?? 0, m.id])}`;
}

// Prepared once per connection: read for every message (a built query costs ~80 µs here).
const subscriberLookup = perConnection((db: Db) => db.select().from(subscribers).where(eq(subscribers.id, sql.placeholder("id"))).prepare());
/** The message's subscriber, for its Liquid variables (none: a transactional to a non-subscriber, SMTP mail). */
export const recipientOf = (db: Db, m: Pick<Message, "subscriber_id">): Subscriber | undefined => (m.subscriber_id ? subscriberLookup(db).get({ id: m.subscriber_id }) : undefined);

/** What is rendered per recipient: the row's own fields (transactional; sequence mail: its step's, copied), or the broadcast's (stored once). */
interface Source {
  subject: string;
  body: string;
  preheader: string | null;
  /** null: decided by looking at the rendered body (transactionals, SMTP). */
  html: boolean | null;
  broadcast: BroadcastContent | null;
  /** Bulk mail (broadcast, sequence): the footer. */
  bulk: BulkContent | null;
  /** Raw href → link index of the body's trackable links (bulk mail, and transactionals that track; §16). */
  links: ReadonlyMap<string, number> | null;
}

function sourceOf(deps: Deps, m: Message): Source {
  if (m.broadcast_id === null) {
    // Sequence mail carries its step's content, copied when it was queued (its links with it).
    // So does a tracked transactional: its clicks resolve from its own body (tracking/service.ts).
    const bulk = m.kind === "sequence" ? bulkContent(m.body ?? "", m.include_unsubscribe_link) : null;
    const tracked = m.kind === "transactional" && (m.track_opens || m.track_clicks);
    const links = bulk?.links ?? (tracked ? bulkContent(m.body ?? "", false).links : null);
    return { subject: m.subject ?? "", body: m.body ?? "", preheader: m.preheader, html: m.html_body, broadcast: null, bulk, links };
  }
  const b = broadcastContent(deps.db, m.broadcast_id);
  if (!b) throw new RenderError("the broadcast was deleted", "error");
  return { subject: b.subject, body: b.body, preheader: b.preheader, html: b.html, broadcast: b, bulk: b, links: b.links };
}

/**
 * Renders a structured message or loads a raw one; `subscriber` is the message's (`recipientOf`, read by
 * the sender with its batch). @throws RenderError (Liquid) — the caller fails the message.
 */
export async function compose(deps: Deps, m: Message, channel: Channel, subscriber: Subscriber | undefined): Promise<Composed> {
  // VERP (MAILROOM_BOUNCE_DOMAIN): a signed return path per message; the From header is unchanged.
  const envelope = { from: returnPathFor(deps, m.id) ?? (channel.sender_email ?? m.from_email)!, to: [m.recipient_email] };
  if (m.raw_mime || m.raw_of) {
    const raw = m.raw_mime ?? deps.db.select({ raw: messages.raw_mime }).from(messages).where(eq(messages.id, m.raw_of!)).get()?.raw;
    if (!raw) throw new Error("raw MIME missing");
    return { kind: "raw", subject: m.subject, message: { kind: "raw", envelope, raw: Buffer.from(raw), headers: {} } };
  }
  const source = sourceOf(deps, m);
  const unsub = unsubscribeUrl(deps, m);
  const b = source.broadcast;
  const variables = buildVariables({
    subscriber: subscriber ?? { email: m.recipient_email },
    channel,
    data: m.data ?? {},
    unsubscribe_url: unsub,
    // Confirmation emails (§10.2) carry their signed link in data.
    confirmation_url: m.kind === "system" && typeof m.data?.confirmation_url === "string" ? m.data.confirmation_url : null,
    ...(b ? { broadcast: { name: b.name, subject: b.subject } } : {}),
  });
  const subject = (await renderLiquid(source.subject, variables)).replace(/[\r\n]+/g, " ");
  const rendered = await renderLiquid(source.body, variables);
  const preheader = source.preheader ? await renderLiquid(source.preheader, variables) : "";
  const isHtml = source.html ?? looksLikeHtml(rendered);
  let html = isHtml ? rendered : `<p>${escapeHtml(rendered).replace(/\r?\n/g, "<br>")}</p>`;
  const bulk = source.bulk;
  // The footer goes in with a mark for its unsubscribe URL, so the text part of a body every recipient shares is converted once.
  if (bulk) html = beforeBodyEnd(html, footer(bulk, channel, URL_MARK));
  // The text part shows the real URLs (it is not tracked).
  const text = bulk ? sharedTextPart(html).replace(URL_MARK, () => unsub) : isHtml ? htmlToText(html) : rendered;
  html = html.replace(URL_MARK, () => escapeHtml(unsub));
  if (preheader) {
    const hidden = `<div style="display:none;max-height:0;overflow:hidden;opacity:0">${escapeHtml(preheader)}</div>`;
    html = /<body[^>]*>/i.test(html) ? html.replace(/<body[^>]*>/i, (tag) => tag + hidden) : hidden + html;
  }
  if (source.links) html = track(deps, m, source.links, html);
  return {
    kind: "structured",
    subject,
    unsubscribeUrl: unsub,
    message: {
      kind: "structured",
      envelope,
      from: { name: channel.sender_name, address: channel.sender_email! },
      to: { name: m.recipient_name, address: m.recipient_email },
      replyTo: m.reply_to ?? channel.reply_to,
      subject,
      html,
      text,
      messageId: m.message_id,
      headers: {},
    },
  };
}

/** Inserts `fragment` before `</body>` when there is one, else appends it. */
function beforeBodyEnd(html: string, fragment: string): string {
  if (!fragment) return html;
  const end = html.search(/<\/body>/i);
  return end < 0 ? html + fragment : html.slice(0, end) + fragment + html.slice(end);
}

/**
 * The footer of bulk mail (§5; sequence mail too): the unsubscribe link and the channel's physical address, left out when
 * the body places `{{unsubscribe_url}}` itself; without `include_unsubscribe_link`, the address only.
 */
function footer(b: BulkContent, channel: Channel, unsub: string): string {
  if (b.placesUnsubscribeUrl) return "";
  const parts = [
    ...(b.includeUnsubscribeLink ? [`<a href="${escapeHtml(unsub)}" data-mr-notrack>Unsubscribe</a>`] : []),
    ...(channel.physical_address ? [escapeHtml(channel.physical_address)] : []),
  ];
  return parts.length ? `<p style="font-size:12px;color:#666">${parts.join("<br>")}</p>` : "";
}

/** Signed click links and the open pixel (§16), when the message asks for them. */
function track(deps: Deps, m: Message, links: ReadonlyMap<string, number>, html: string): string {
  if (!m.track_clicks && !m.track_opens) return html;
  const secret = linkSecret(deps);
  const base = deps.config.publicUrl;
  let out = m.track_clicks ? rewriteLinks(html, links, (index) => `${base}/t/c/${signLink(secret, "click", [m.id, index])}`) : html;
  if (m.track_opens) out = beforeBodyEnd(out, `<img src="${base}/t/o/${signLink(secret, "open", [m.id])}.gif" width="1" height="1" alt="" style="display:none">`);
  return out;
}

/**
 * The message for one target: List-Unsubscribe (+ One-Click) for broadcast/sequence mail, and for
 * transactionals that asked for it unless the server has `include_unsubscribe_header: false` (capture
 * counts as true); X-Mailroom-Capture for the local capture hop; through a Postmark server, the row id
 * as Postmark metadata (its webhooks name our message no other way). Raw SMTP mail gets only the last two.
 */
export function forTarget(deps: Deps, m: Message, composed: Composed, target: Target, server: EmailServer | null): OutboundMessage {
  const headers: Record<string, string> = {};
  if (target.kind === "capture") headers["X-Mailroom-Capture"] = captureHeaderValue(linkSecret(deps), m.id);
  if (server?.vendor === "postmark") headers[POSTMARK_METADATA_HEADER] = String(m.id);
  if (composed.kind === "raw") return { ...composed.message, headers, lane: m.lane };
  const wanted = m.kind === "broadcast" || m.kind === "sequence" || (m.include_unsubscribe_link && (server?.include_unsubscribe_header ?? true));
  if (wanted) {
    const custom = server?.use_custom_unsubscribe_link && server.custom_unsubscribe_link;
    headers["List-Unsubscribe"] = `<${custom || composed.unsubscribeUrl}>`;
    if (!custom) headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
  }
  return { ...composed.message, headers, lane: m.lane };
}
