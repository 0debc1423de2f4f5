/**
 * Turns an outbox row into what the transport sends: Liquid rendering of subject, preheader and
 * body (send-time, §8), the generated text alternative, the signed unsubscribe URL (§16), and the
 * per-target headers (List-Unsubscribe, X-Mailroom-Capture). Raw SMTP submissions pass through.
 */
import { eq } from "drizzle-orm";
import { messages, subscribers, type Channel, type EmailServer, type Message } from "@/db/schema";
import type { Deps } from "@/deps";
import { escapeHtml } from "@/lib/html";
import { linkSecret } from "@/db/settings";
import { captureHeaderValue, signLink } from "@/lib/links";
import { buildVariables, renderLiquid } from "@/lib/liquid";
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

/** The signed `/u/<token>` URL for a message (§16 payload `[subscriber_id, message_id]`). */
export function unsubscribeUrl(deps: Deps, m: Pick<Message, "id" | "subscriber_id">): string {
  return `${deps.config.publicUrl}/u/${signLink(linkSecret(deps), "unsub", [m.subscriber_id ?? 0, m.id])}`;
}

/** Renders a structured message or loads a raw one. @throws RenderError (Liquid) — the caller fails the message. */
export async function compose(deps: Deps, m: Message, channel: Channel): Promise<Composed> {
  const envelope = { from: (channel.sender_email ?? m.from_email)!, to: [m.recipient_email] };
  if (m.raw_mime || m.raw_of) {
    const raw = m.raw_mime ?? deps.db.select({ raw: messages.raw_mime }).from(messages).where(eq(messages.id, m.raw_of!)).get()?.raw;
    if (!raw) throw new Error("raw MIME missing");
    return { kind: "raw", subject: m.subject, message: { kind: "raw", envelope, raw: Buffer.from(raw), headers: {} } };
  }
  const subscriber = m.subscriber_id ? deps.db.select().from(subscribers).where(eq(subscribers.id, m.subscriber_id)).get() : undefined;
  const unsub = unsubscribeUrl(deps, m);
  const variables = buildVariables({
    subscriber: subscriber ?? { email: m.recipient_email },
    channel,
    data: m.data ?? {},
    unsubscribe_url: unsub,
  });
  const subject = (await renderLiquid(m.subject, variables)).replace(/[\r\n]+/g, " ");
  const body = await renderLiquid(m.body, variables);
  const preheader = m.preheader ? await renderLiquid(m.preheader, variables) : "";
  const isHtml = looksLikeHtml(body);
  let html = isHtml ? body : `<p>${escapeHtml(body).replace(/\r?\n/g, "<br>")}</p>`;
  if (preheader) {
    const hidden = `<div style="display:none;max-height:0;overflow:hidden;opacity:0">${escapeHtml(preheader)}</div>`;
    html = /<body[^>]*>/i.test(html) ? html.replace(/<body[^>]*>/i, (tag) => tag + hidden) : hidden + html;
  }
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
      text: isHtml ? htmlToText(body) : body,
      messageId: m.message_id,
      headers: {},
    },
  };
}

/**
 * The message for one target: List-Unsubscribe (+ One-Click) for broadcast/sequence mail, and for
 * transactionals that asked for it unless the server has `include_unsubscribe_header: false` (capture
 * counts as true); X-Mailroom-Capture for the local capture hop. Raw SMTP mail gets only the latter.
 */
export function forTarget(deps: Deps, m: Message, composed: Composed, target: Target, server: EmailServer | null): OutboundMessage {
  const headers: Record<string, string> = {};
  if (target.kind === "capture") headers["X-Mailroom-Capture"] = captureHeaderValue(linkSecret(deps), m.id);
  if (composed.kind === "raw") return { ...composed.message, headers, lane: m.lane };
  const wanted = m.kind === "broadcast" || m.kind === "sequence" || (m.include_unsubscribe_link && (server?.include_unsubscribe_header ?? true));
  if (wanted) {
    const custom = server?.use_custom_unsubscribe_link && server.custom_unsubscribe_link;
    headers["List-Unsubscribe"] = `<${custom || composed.unsubscribeUrl}>`;
    if (!custom) headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
  }
  return { ...composed.message, headers, lane: m.lane };
}
