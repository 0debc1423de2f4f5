/**
 * The step tree of a sequence (docs/api-reference.md §6): the root `entry_point`, a non-condition
 * step has at most one child, a condition at most one per branch (`yes`/`no`). Inserting into an
 * occupied slot splices, moving takes the subtree along (never under itself), deleting re-attaches
 * the child, and the enrollments standing on a deleted step go on to its child (or complete).
 * `position` is the pre-order index (root 0, a condition's `yes` branch before its `no`).
 */
import { and, asc, count, eq, inArray, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { sequence_steps, type Sequence, type SequenceStep } from "@/db/schema";
import type { Deps } from "@/deps";
import type { Warning } from "@/input/fields";
import { notFound, unprocessable, validationError } from "@/lib/errors";
import { actionColumns, type StepValues } from "./steps";
import { completeEnrollments, moveEnrollments } from "./members";

export const MAX_STEPS = 500;
type Branch = "yes" | "no" | null;
type Slot = { parent: SequenceStep; branch: Branch };

/** Every step of the sequence in pre-order. */
export const stepsInOrder = (db: Db, sequenceId: number) =>
  db.select().from(sequence_steps).where(eq(sequence_steps.sequence_id, sequenceId)).orderBy(asc(sequence_steps.position), asc(sequence_steps.id)).all();

/** A step of the sequence. @throws 404 "Step not found". */
export function getStep(db: Db, sequence: Sequence, id: number): SequenceStep {
  const row = db.select().from(sequence_steps).where(and(eq(sequence_steps.id, id), eq(sequence_steps.sequence_id, sequence.id))).get();
  if (!row) throw notFound("Step");
  return row;
}

const childrenOf = (db: Db, id: number) => db.select().from(sequence_steps).where(eq(sequence_steps.parent_id, id)).all();

/** The step in `slot`, if any (other than `except`). */
function occupant(db: Db, slot: Slot, except?: number): SequenceStep | undefined {
  const branch = slot.branch === null ? isNull(sequence_steps.branch) : eq(sequence_steps.branch, slot.branch);
  return db.select().from(sequence_steps).where(and(eq(sequence_steps.parent_id, slot.parent.id), branch)).all().find((s) => s.id !== except);
}

/**
 * The slot under step `parentId` of the sequence: a condition needs a branch, any other step takes none.
 * @throws 422 naming `param` (parent_id / under_id) or `branch`.
 */
function readSlot(db: Db, sequence: Sequence, parentId: number, branch: Branch | undefined, param: string): Slot {
  const parent = db.select().from(sequence_steps).where(and(eq(sequence_steps.id, parentId), eq(sequence_steps.sequence_id, sequence.id))).get();
  if (!parent) throw validationError({ [param]: ["does not exist in this sequence"] });
  if (parent.action === "condition" && !branch) throw validationError({ branch: ["must be yes or no under a condition step"] });
  if (parent.action !== "condition" && branch) throw validationError({ branch: ["can only be set under a condition step"] });
  return { parent, branch: branch ?? null };
}

/** Where an occupant moves under `step`: its only slot, or a condition's first free branch (`yes`, then `no`). */
function freeBranch(db: Db, step: SequenceStep): Branch | undefined {
  const taken = childrenOf(db, step.id).map((c) => c.branch);
  if (step.action !== "condition") return taken.length ? undefined : null;
  return (["yes", "no"] as const).find((b) => !taken.includes(b));
}

/** Rewrites `position` as the pre-order index where it changed. */
function renumber(db: Db, sequenceId: number): void {
  const steps = db.select({ id: sequence_steps.id, parent_id: sequence_steps.parent_id, branch: sequence_steps.branch, position: sequence_steps.position }).from(sequence_steps).where(eq(sequence_steps.sequence_id, sequenceId)).all();
  const order = { null: 0, yes: 1, no: 2 } as const;
  const children = new Map<number | null, typeof steps>();
  for (const s of steps) children.set(s.parent_id, [...(children.get(s.parent_id) ?? []), s]);
  let next = 0;
  const visit = (s: (typeof steps)[number]) => {
    const position = next++;
    if (s.position !== position) db.update(sequence_steps).set({ position }).where(eq(sequence_steps.id, s.id)).run();
    const kids = (children.get(s.id) ?? []).sort((a, b) => order[a.branch ?? "null"] - order[b.branch ?? "null"]);
    kids.forEach(visit);
  };
  (children.get(null) ?? []).forEach(visit);
}

/** Adds a step (default: under the root); an occupied slot's step moves under the new one. @throws 422. */
export function insertStep(deps: Deps, sequence: Sequence, v: StepValues & { action: NonNullable<StepValues["action"]> }, warnings: Warning[]): SequenceStep {
  return deps.db.transaction((tx) => {
    const db = tx as unknown as Db;
    if (db.select({ n: count() }).from(sequence_steps).where(eq(sequence_steps.sequence_id, sequence.id)).get()!.n >= MAX_STEPS) {
      throw unprocessable(`Sequence has too many steps (maximum is ${MAX_STEPS})`);
    }
    const slot = readSlot(db, sequence, v.parent_id ?? sequence.entry_point_id!, v.branch, "parent_id");
    const cols = actionColumns(db, deps.config, sequence, v.action, v, null, warnings);
    const now = deps.clock.now();
    const taken = occupant(db, slot);
    const step = db
      .insert(sequence_steps)
      .values({ sequence_id: sequence.id, action: v.action, label: v.label ?? null, parent_id: slot.parent.id, branch: slot.branch, ...cols, created_at: now, updated_at: now })
      .returning()
      .get();
    if (taken) db.update(sequence_steps).set({ parent_id: step.id, branch: step.action === "condition" ? "yes" : null, updated_at: now }).where(eq(sequence_steps.id, taken.id)).run();
    renumber(db, sequence.id);
    return getStep(db, sequence, step.id);
  });
}

/** PATCH: label and the action's fields (`action` itself is immutable). @throws 422. */
export function updateStep(deps: Deps, sequence: Sequence, step: SequenceStep, v: StepValues, warnings: Warning[]): SequenceStep {
  if (step.action === "entry_point") {
    if (v.label === undefined) return step;
    return deps.db.update(sequence_steps).set({ label: v.label, updated_at: deps.clock.now() }).where(eq(sequence_steps.id, step.id)).returning().get()!;
  }
  const cols = actionColumns(deps.db, deps.config, sequence, step.action, v, step, warnings);
  if (v.label !== undefined) cols.label = v.label;
  if (Object.keys(cols).length === 0) return step;
  return deps.db.update(sequence_steps).set({ ...cols, updated_at: deps.clock.now() }).where(eq(sequence_steps.id, step.id)).returning().get()!;
}

/** Moves `step` and its subtree under `underId` (a condition's `branch`); an occupant of that slot goes under the moved step. @throws 422. */
export function moveStep(deps: Deps, sequence: Sequence, step: SequenceStep, underId: number, branch: Branch | undefined): SequenceStep {
  if (step.action === "entry_point") throw unprocessable("The entry point can't be moved");
  return deps.db.transaction((tx) => {
    const db = tx as unknown as Db;
    const slot = readSlot(db, sequence, underId, branch, "under_id");
    for (let at: SequenceStep | undefined = slot.parent; at; at = at.parent_id === null ? undefined : getStep(db, sequence, at.parent_id)) {
      if (at.id === step.id) throw validationError({ under_id: ["is the step itself or one of its descendants (the tree would have a cycle)"] });
    }
    if (slot.parent.id === step.parent_id && slot.branch === step.branch) return step;
    const taken = occupant(db, slot, step.id);
    const now = deps.clock.now();
    if (taken) {
      const free = freeBranch(db, step);
      if (free === undefined) throw unprocessable("The slot under under_id is taken and the moved step has no free slot to take its step");
      db.update(sequence_steps).set({ parent_id: step.id, branch: free, updated_at: now }).where(eq(sequence_steps.id, taken.id)).run();
    }
    db.update(sequence_steps).set({ parent_id: slot.parent.id, branch: slot.branch, updated_at: now }).where(eq(sequence_steps.id, step.id)).run();
    renumber(db, sequence.id);
    return getStep(db, sequence, step.id);
  });
}

/**
 * Deletes a step. Without `cascade` its child (at most one: a condition with steps under it needs
 * `cascade`) takes its place, and enrollments standing on it go on to that child or complete. With
 * `cascade` the whole subtree goes and the enrollments standing anywhere in it complete. @throws 422.
 */
export function deleteStep(deps: Deps, sequence: Sequence, step: SequenceStep, cascade: boolean): void {
  if (step.action === "entry_point") throw unprocessable("The entry point can't be deleted");
  deps.db.transaction((tx) => {
    const db = tx as unknown as Db;
    const children = childrenOf(db, step.id);
    if (cascade) {
      const ids = [step.id];
      for (let i = 0; i < ids.length; i++) ids.push(...childrenOf(db, ids[i]).map((c) => c.id));
      completeEnrollments(deps, db, sequence, ids);
      db.delete(sequence_steps).where(inArray(sequence_steps.id, ids)).run();
    } else {
      if (step.action === "condition" && children.length) throw unprocessable("A condition step with steps under it can only be deleted with cascade: true");
      const child = children[0];
      if (child) {
        db.update(sequence_steps).set({ parent_id: step.parent_id, branch: step.branch, updated_at: deps.clock.now() }).where(eq(sequence_steps.id, child.id)).run();
        moveEnrollments(deps, db, sequence, step.id, child);
      } else completeEnrollments(deps, db, sequence, [step.id]);
      db.delete(sequence_steps).where(eq(sequence_steps.id, step.id)).run();
    }
    renumber(db, sequence.id);
  });
}
