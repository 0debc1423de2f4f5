/**
 * What compose needs of a broadcast, read once per broadcast and kept (its content cannot change
 * once it has recipients: only drafts and future schedules are editable), and the tracked links of
 * its body (§16): static `http(s)` hrefs in body order, except `data-mr-notrack` links. Links with
 * Liquid in them, `mailto:`, `tel:`, anchors and the unsubscribe URL are never tracked.
 */
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { broadcast_links, broadcasts } from "@/db/schema";

/** What the footer and tracking of bulk mail (broadcast and sequence) need of its body. */
export interface BulkContent {
  includeUnsubscribeLink: boolean;
  /** The body places `{{ unsubscribe_url }}` itself (no footer then). */
  placesUnsubscribeUrl: boolean;
  /** Raw href attribute text → link index (the click token carries the index). */
  links: Map<string, number>;
}

export interface BroadcastContent extends BulkContent {
  id: number;
  name: string;
  subject: string;
  preheader: string | null;
  body: string;
  html: boolean;
}

const ANCHOR = /<a\b[^>]*>/gi;
const HREF = /\bhref\s*=\s*(["'])(.*?)\1/i;
const TRACKABLE = /^https?:\/\/[^\s{}]+$/i;
const CACHED_MAX = 64;
const caches = new WeakMap<Db, Map<number, BroadcastContent>>();

/** The distinct trackable href values of `html`, in order of first appearance. */
export function trackableLinks(html: string): string[] {
  const out = new Set<string>();
  for (const [tag] of html.matchAll(ANCHOR)) {
    const href = HREF.exec(tag)?.[2];
    if (href && TRACKABLE.test(href) && !/data-mr-notrack/i.test(tag)) out.add(href);
  }
  return [...out];
}

/** Replaces each tracked href of `html` by `tracked(index)`. */
export function rewriteLinks(html: string, links: ReadonlyMap<string, number>, tracked: (index: number) => string): string {
  if (links.size === 0) return html;
  return html.replace(ANCHOR, (tag) => {
    if (/data-mr-notrack/i.test(tag)) return tag;
    return tag.replace(HREF, (attr, quote: string, href: string) => {
      const index = links.get(href);
      return index === undefined ? attr : `href=${quote}${tracked(index)}${quote}`;
    });
  });
}

/** A tracked link's target as stored (HTML entities of the attribute decoded). */
const decodeHref = (href: string) => href.replace(/&amp;/g, "&");

/** The footer and link facts of a bulk body (a sequence message's body is its own: see `linkTarget`). */
export function bulkContent(body: string, includeUnsubscribeLink: boolean): BulkContent {
  return {
    includeUnsubscribeLink,
    placesUnsubscribeUrl: /\{\{-?\s*unsubscribe_url\b/.test(body),
    links: new Map(trackableLinks(body).map((href, i) => [href, i])),
  };
}

/** The target of tracked link `index` of a body that carries its own links (sequence mail), or null. */
export function linkTarget(body: string, index: number): string | null {
  const href = trackableLinks(body)[index];
  return href === undefined ? null : decodeHref(href);
}

/** Stores the broadcast's tracked links (call when sending starts, in its transaction). */
export function storeLinks(db: Db, broadcastId: number, body: string): void {
  db.delete(broadcast_links).where(eq(broadcast_links.broadcast_id, broadcastId)).run();
  const links = trackableLinks(body);
  if (links.length) db.insert(broadcast_links).values(links.map((url, i) => ({ broadcast_id: broadcastId, link_index: i, url: decodeHref(url) }))).run();
}

/** The broadcast's content, cached per database handle; null when it was deleted. */
export function broadcastContent(db: Db, id: number): BroadcastContent | null {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const hit = cache.get(id);
  if (hit) return hit;
  const b = db.select().from(broadcasts).where(eq(broadcasts.id, id)).get();
  if (!b) return null;
  const content: BroadcastContent = {
    id: b.id,
    name: b.name,
    subject: b.subject,
    preheader: b.preheader,
    body: b.body,
    html: b.html_body,
    ...bulkContent(b.body, b.include_unsubscribe_link),
  };
  if (cache.size >= CACHED_MAX) cache.delete(cache.keys().next().value!);
  cache.set(id, content);
  return content;
}
