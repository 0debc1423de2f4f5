/**
 * The expiry of held transactionals (§10.2): a message held for a confirmation that did not come
 * within the link's 7 days fails with `confirmation_expired` (and an `email.failed` event). Reads
 * the partial index of held messages, in batches; restart-safe (the state is the rows).
 */
import { and, inArray, lte } from "drizzle-orm";
import { messages } from "@/db/schema";
import type { Deps } from "@/deps";
import { emailEvent } from "@/features/events/catalogue";
import { appendEvents } from "@/features/events/service";
import { CONFIRMATION_TTL_MS, HELD } from "@/features/subscribers/double-opt-in";
import type { Job } from "@/jobs/runner";

const BATCH = 500;
export const CONFIRMATION_EXPIRY_JOB = "confirmation.expiry";

export function confirmationExpiryJob(deps: Deps): Job {
  return {
    name: CONFIRMATION_EXPIRY_JOB,
    intervalMs: 60_000,
    tick(now) {
      return deps.db.transaction((tx) => {
        const due = tx
          .select({ id: messages.id })
          .from(messages)
          .where(and(HELD, lte(messages.created_at, now - CONFIRMATION_TTL_MS)))
          .limit(BATCH)
          .all()
          .map((m) => m.id);
        if (due.length === 0) return false;
        const failed = tx
          .update(messages)
          .set({ status: "failed", failure_reason: "confirmation_expired", failed_at: now, updated_at: now })
          .where(and(inArray(messages.id, due), HELD))
          .returning()
          .all();
        const slugOf = (id: number) => deps.auth.cache.slugOf(id) ?? "";
        appendEvents(tx, deps.clock, failed.map((m) => emailEvent("email.failed", slugOf(m.channel_id), m, { failure_reason: "confirmation_expired" })));
        return due.length === BATCH;
      });
    },
  };
}
