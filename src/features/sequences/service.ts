/**
 * Sequences (docs/api-reference.md §6): channel-owned automations. A sequence is created with its
 * root `entry_point` step; deleting it removes its steps and enrollments (foreign keys cascade).
 * The step tree is tree.ts, enrollments members.ts.
 */
import { and, asc, count, eq, inArray } from "drizzle-orm";
import { assertInScope, requireSomeChannel, type Scope } from "@/auth/scope";
import type { Db } from "@/db/client";
import { idsInChannel } from "@/db/owned";
import { email_servers, segments, sequence_steps, sequences, subscriber_sequences, type Channel, type Sequence } from "@/db/schema";
import type { Deps } from "@/deps";
import type { FieldValues } from "@/input/fields";
import { notFound, validationError, type FieldErrors } from "@/lib/errors";
import type { SequenceFields } from "./model";

type Values = FieldValues<typeof SequenceFields, true>;

/** Enrollments that still count as subscribers of a sequence. */
export const OPEN = inArray(subscriber_sequences.status, ["active", "paused"]);

/** Sequences of T, oldest first, with the total. */
export function listSequences(deps: Deps, scope: Scope, limit: number, offset: number) {
  requireSomeChannel(scope);
  const where = inArray(sequences.channel_id, [...scope.channelIds]);
  const rows = deps.db.select().from(sequences).where(where).orderBy(asc(sequences.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(sequences).where(where).get()!.n;
  return { rows, total };
}

/** Open enrollments per sequence (`subscribers_count`), one grouped query over the sequence index. */
export function openCounts(db: Db, ids: readonly number[]): Map<number, number> {
  if (ids.length === 0) return new Map();
  const rows = db
    .select({ id: subscriber_sequences.sequence_id, n: count() })
    .from(subscriber_sequences)
    .where(and(inArray(subscriber_sequences.sequence_id, [...ids]), OPEN))
    .groupBy(subscriber_sequences.sequence_id)
    .all();
  return new Map(rows.map((r) => [r.id, r.n]));
}

/** A sequence of T. @throws 404 "Sequence not found". */
export function getSequence(deps: Deps, scope: Scope, id: number): Sequence {
  const row = sequenceById(deps.db, id);
  if (!row) throw notFound("Sequence");
  assertInScope(scope, row.channel_id, "Sequence");
  return row;
}

export const sequenceById = (db: Db, id: number) => db.select().from(sequences).where(eq(sequences.id, id)).get();

/** Column values of the present fields, their references checked against the channel. */
function columns(db: Db, channelId: number, v: Values): Partial<Sequence> {
  const errors: FieldErrors = {};
  const out: Partial<Sequence> = {};
  for (const key of ["label", "active", "track_opens", "track_clicks", "use_any_email_server", "init_tag", "init_segment_id"] as const) {
    if (v[key] !== undefined) (out as Record<string, unknown>)[key] = v[key];
  }
  if (v.email_server_ids !== undefined) {
    const ids = (out.email_server_ids = v.email_server_ids ?? []);
    const known = new Set(idsInChannel(db, email_servers, channelId, ids));
    ids.forEach((id, i) => known.has(id) || (errors[`email_server_ids.${i}`] = ["does not exist in this channel"]));
  }
  if (typeof v.init_segment_id === "number" && idsInChannel(db, segments, channelId, [v.init_segment_id]).length === 0) {
    errors.init_segment_id = ["does not exist in this channel"];
  }
  if (Object.keys(errors).length) throw validationError(errors);
  return out;
}

/** Creates a sequence with its root `entry_point` step. @throws 422 on references outside the channel. */
export function createSequence(deps: Deps, channel: Channel, v: Values & { label: string }): Sequence {
  const cols = columns(deps.db, channel.id, v);
  const now = deps.clock.now();
  return deps.db.transaction((tx) => {
    const row = tx
      .insert(sequences)
      .values({ channel_id: channel.id, email_server_ids: [], ...cols, label: v.label, created_at: now, updated_at: now })
      .returning()
      .get();
    const root = tx
      .insert(sequence_steps)
      .values({ sequence_id: row.id, action: "entry_point", position: 0, created_at: now, updated_at: now })
      .returning({ id: sequence_steps.id })
      .get();
    return tx.update(sequences).set({ entry_point_id: root.id }).where(eq(sequences.id, row.id)).returning().get()!;
  });
}

/** Applies the present fields. @throws 422 as createSequence. */
export function updateSequence(deps: Deps, s: Sequence, v: Values): Sequence {
  const cols = columns(deps.db, s.channel_id, v);
  if (Object.keys(cols).length === 0) return s;
  return deps.db.update(sequences).set({ ...cols, updated_at: deps.clock.now() }).where(eq(sequences.id, s.id)).returning().get()!;
}

/** Deletes a sequence; its steps and enrollments go with it (ON DELETE CASCADE). */
export function deleteSequence(deps: Deps, s: Sequence): void {
  deps.db.delete(sequences).where(eq(sequences.id, s.id)).run();
}

/** Sequences starting from segment `segmentId`, as "sequence 5" (the segment's "in use by" check). */
export function sequencesUsingSegment(db: Db, segmentId: number): string[] {
  return db
    .select({ id: sequences.id })
    .from(sequences)
    .where(eq(sequences.init_segment_id, segmentId))
    .orderBy(asc(sequences.id))
    .all()
    .map((r) => `sequence ${r.id}`);
}

/** Steps sending template `templateId`, as "sequence_step 12" (the template's "in use by" check). */
export function stepsUsingTemplate(db: Db, templateId: number): string[] {
  return db
    .select({ id: sequence_steps.id })
    .from(sequence_steps)
    .where(eq(sequence_steps.template_id, templateId))
    .orderBy(asc(sequence_steps.id))
    .all()
    .map((r) => `sequence_step ${r.id}`);
}
