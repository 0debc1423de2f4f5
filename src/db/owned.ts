/** Lookups of channel-owned records shared by the features that reference them by id. */
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "./client";
import type { email_servers, segments, sequences } from "./schema";

/** Which of `ids` are records of `table` in channel `channelId`. */
export function idsInChannel(db: Db, table: typeof segments | typeof email_servers | typeof sequences, channelId: number, ids: readonly number[]): number[] {
  if (ids.length === 0) return [];
  return db
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.channel_id, channelId), inArray(table.id, [...ids])))
    .all()
    .map((r) => r.id);
}
