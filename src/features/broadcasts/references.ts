/**
 * Segments a broadcast still needs (registered with the reference registry in boot.ts): a draft or
 * scheduled broadcast reads its segments when it starts, so they stay in use until then (§7).
 */
import { sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { broadcasts } from "@/db/schema";

/** Draft and scheduled broadcasts naming segment `segmentId` (included or excluded), as "broadcast 12". */
export function broadcastsUsingSegment(db: Db, segmentId: number): string[] {
  const names = (column: typeof broadcasts.segment_ids) => sql`EXISTS (SELECT 1 FROM json_each(${column}) WHERE value = ${segmentId})`;
  return db
    .select({ id: broadcasts.id })
    .from(broadcasts)
    .where(sql`${broadcasts.status} IN ('draft', 'future_scheduled', 'scheduled') AND (${names(broadcasts.segment_ids)} OR ${names(broadcasts.excluded_segment_ids)})`)
    .orderBy(broadcasts.id)
    .all()
    .map((b) => `broadcast ${b.id}`);
}
