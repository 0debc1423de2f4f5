/**
 * References the outbox holds to other records, registered with the reference registry in boot.ts:
 * a message renders its template at send time, so an open message keeps the template in use.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { messages } from "@/db/schema";

/** Message states that will still read their template. */
const OPEN_MESSAGE_STATES = ["pending_confirmation", "queued", "sending", "deferred"] as const;

/** Open messages rendering template `templateId`, as "transactional 12" / "broadcast_message 7". */
export function openMessagesUsingTemplate(db: Db, templateId: number): string[] {
  return db
    .select({ id: messages.id, kind: messages.kind })
    .from(messages)
    .where(and(eq(messages.template_id, templateId), inArray(messages.status, [...OPEN_MESSAGE_STATES])))
    .orderBy(messages.id)
    .all()
    .map((m) => `${m.kind === "transactional" ? "transactional" : `${m.kind}_message`} ${m.id}`);
}
