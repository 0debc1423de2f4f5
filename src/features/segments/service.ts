/**
 * Segments (docs/api-reference.md §7): channel-owned rule sets over subscribers. Membership is always computed
 * by one SQL query (`compileSegment`), never by loading subscribers.
 */
import { asc, count, eq, inArray } from "drizzle-orm";
import { assertInScope, requireSomeChannel, type Scope } from "@/auth/scope";
import type { Db } from "@/db/client";
import { segment_groups, segment_rules, segments, subscribers, type Channel, type Segment, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { notFound, unprocessable } from "@/lib/errors";
import { compileSegment } from "./compile";
import type { GroupWithRules } from "./model";
import type { GroupDef, RuleType } from "./rules";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Segments of T ordered by id, with the total. */
export function listSegments(deps: Deps, scope: Scope, limit: number, offset: number) {
  requireSomeChannel(scope);
  const where = inArray(segments.channel_id, [...scope.channelIds]);
  const rows = deps.db.select().from(segments).where(where).orderBy(asc(segments.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(segments).where(where).get()!.n;
  return { rows, total };
}

/** A segment of T. @throws 404 "Segment not found" (missing or outside T). */
export function getSegment(deps: Deps, scope: Scope, id: number): Segment {
  const row = deps.db.select().from(segments).where(eq(segments.id, id)).get();
  if (!row) throw notFound("Segment");
  assertInScope(scope, row.channel_id, "Segment");
  return row;
}

/** Stored groups with their rules, both in position order. */
export function loadGroups(db: Db | Tx, segmentId: number): GroupWithRules[] {
  const groups = db.select().from(segment_groups).where(eq(segment_groups.segment_id, segmentId)).orderBy(asc(segment_groups.position)).all();
  if (groups.length === 0) return [];
  const rules = db
    .select()
    .from(segment_rules)
    .where(
      inArray(
        segment_rules.group_id,
        groups.map((g) => g.id),
      ),
    )
    .orderBy(asc(segment_rules.position))
    .all();
  return groups.map((g) => ({ ...g, rules: rules.filter((r) => r.group_id === g.id) }));
}

/** The compilable definition of stored groups. */
export function toDefinition(groups: GroupWithRules[]): GroupDef[] {
  return groups.map((g) => ({
    match_type: g.match_type,
    rules: g.rules.map((r) => ({
      field: r.field,
      operator: r.operator,
      value: r.value,
      secondary_value: r.secondary_value,
      rule_type: r.rule_type as RuleType,
      value_type: r.value_type ?? "",
      is_negative: r.is_negative,
      case_sensitive: r.case_sensitive,
    })),
  }));
}

/** The SQL membership condition of a stored segment (for broadcasts, sequences and counts). */
export function segmentCondition(deps: Deps, segment: Segment) {
  return compileSegment(toDefinition(loadGroups(deps.db, segment.id)), { channelId: segment.channel_id, now: deps.clock.now() });
}

/** Number of subscribers matching the segment now (one COUNT query). */
export function countSegment(deps: Deps, segment: Segment): number {
  return deps.db.select({ n: count() }).from(subscribers).where(segmentCondition(deps, segment)).get()!.n;
}

/** One page of matching subscribers, by id, plus the total. */
export function segmentMembers(deps: Deps, segment: Segment, limit: number, offset: number): { rows: Subscriber[]; total: number } {
  const where = segmentCondition(deps, segment);
  const rows = deps.db.select().from(subscribers).where(where).orderBy(asc(subscribers.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(subscribers).where(where).get()!.n;
  return { rows, total };
}

function insertGroups(tx: Tx, segmentId: number, groups: GroupDef[]) {
  groups.forEach((g, position) => {
    const group = tx.insert(segment_groups).values({ segment_id: segmentId, match_type: g.match_type, position }).returning({ id: segment_groups.id }).get();
    if (g.rules.length === 0) return;
    tx.insert(segment_rules)
      .values(g.rules.map((r, i) => ({ ...r, group_id: group.id, position: i })))
      .run();
  });
}

export interface SegmentInput {
  values: { name?: string; description?: string | null };
  /** Present = replace all groups. */
  groups?: GroupDef[];
}

/** Creates a segment with its groups in `channel`. */
export function createSegment(deps: Deps, channel: Channel, input: SegmentInput): Segment {
  const now = deps.clock.now();
  return deps.db.transaction((tx) => {
    const row = tx
      .insert(segments)
      .values({ channel_id: channel.id, name: input.values.name!, description: input.values.description ?? null, created_at: now, updated_at: now })
      .returning()
      .get();
    insertGroups(tx, row.id, input.groups ?? []);
    return row;
  });
}

/** Updates present fields; a present groups array replaces every group. */
export function updateSegment(deps: Deps, segment: Segment, input: SegmentInput): Segment {
  return deps.db.transaction((tx) => {
    const row = tx
      .update(segments)
      .set({ ...input.values, updated_at: deps.clock.now() })
      .where(eq(segments.id, segment.id))
      .returning()
      .get();
    if (input.groups) {
      tx.delete(segment_groups).where(eq(segment_groups.segment_id, segment.id)).run();
      insertGroups(tx, segment.id, input.groups);
    }
    return row;
  });
}

/** Deletes a segment (groups and rules cascade). @throws 422 while referenced. */
export function deleteSegment(deps: Deps, segment: Segment): void {
  deps.db.transaction((tx) => {
    const inUse = deps.references.inUseMessage(tx, "segment", segment.id, "Segment");
    if (inUse) throw unprocessable(inUse);
    tx.delete(segments).where(eq(segments.id, segment.id)).run();
  });
}
