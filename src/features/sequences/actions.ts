/**
 * What the scheduler does with one due enrollment (docs/api-reference.md §6): check its subscriber
 * (redacted → removed, inactive → paused), run the action of the step it stands on, then arrive at
 * the step's child (a condition picks its `yes`/`no` branch) and go on while that child is due now,
 * at most MAX_STEPS_PER_TICK steps; no child → completed. Waits (`delay`, `delay_until_time`) have
 * no action: arriving sets their end time (`arrivalTime`).
 */
import type { Database, RawStatement } from "@/db/client";
import type { Enrollment, SequenceStep } from "@/db/schema";
import { isEligible } from "@/features/subscribers/eligibility";
import { readTags } from "@/features/subscribers/fields";
import { addTags, removeTags, setActive } from "@/features/subscribers/service";
import { AppError } from "@/lib/errors";
import type { Batch, Here } from "./batch";
import { arrivalTime, enroll, reentryTooSoon } from "./enrollment";
import { requestStep } from "./http-request";
import { sendEmail } from "./send-step";

/** Steps one enrollment may take in one tick (the rest waits for the next tick, still due). */
export const MAX_STEPS_PER_TICK = 25;

/** What a step's action leads to. */
export type Outcome =
  /** On to the child (of `branch` below a condition); `error` is reported first (`sequence.subscriber_error`). */
  | { kind: "next"; branch?: "yes" | "no"; error?: string }
  /** Stay on this step until `until` (a request in flight or waiting to retry, the quota full). */
  | { kind: "wait"; until: number }
  /** The enrollment has left the sequence (moved). */
  | { kind: "left" };

const NEXT: Outcome = { kind: "next" };

/** Processes one due enrollment: its step's action, then on down the tree while the next step is due. */
export function processDue(batch: Batch, e: Enrollment): void {
  for (let n = 0; n < MAX_STEPS_PER_TICK; n++) {
    const here = standing(batch, e);
    if (!here || !moveOn(batch, e, here, runAction(batch, e, here))) return;
  }
  // Past the bound it stays due now: the next tick goes on.
}

/** Where `e` stands, or null when it cannot go on (removed, paused, its step gone). */
export function standing(batch: Batch, e: Enrollment): Here | null {
  // Paused during this batch by the subscribers' hooks (a deactivate_subscriber step).
  if (e.status !== "active") return null;
  const subscriber = batch.subscribers.get(e.subscriber_id);
  const sequence = batch.sequence(e.sequence_id);
  const channel = sequence && batch.channel(sequence.channel_id);
  if (!subscriber || !sequence || !channel) {
    batch.drop(e);
    return null;
  }
  if (subscriber.redacted_at !== null) {
    finish(batch, e, "removed");
    batch.event("sequence.subscriber_removed", { sequence, subscriber }, e, {});
    return null;
  }
  // Deactivation pauses enrollments at once (hooks.ts); this catches one that was not (kept due time: resuming continues).
  if (!subscriber.is_active) {
    e.status = "paused";
    batch.event("sequence.subscriber_paused", { sequence, subscriber }, e, {});
    return null;
  }
  const step = batch.step(e.current_step_id);
  if (!step) {
    // Deleting a step moves its waiting subscribers on (§6); this is a step deleted under a tick.
    e.status = "error";
    e.next_trigger_at = null;
    e.error = `step ${e.current_step_id} no longer exists`;
    batch.event("sequence.subscriber_error", { sequence, subscriber }, e, { error: e.error });
    return null;
  }
  return { sequence, subscriber, step, channel };
}

/**
 * After the action of `here.step`: waits, or arrives at the child (completed when there is none).
 * Returns true when the child is due now (the caller runs it).
 */
export function moveOn(batch: Batch, e: Enrollment, here: Here, outcome: Outcome): boolean {
  if (outcome.kind === "left") return false;
  if (outcome.kind === "wait") {
    e.next_trigger_at = outcome.until;
    return false;
  }
  if (outcome.error) batch.event("sequence.subscriber_error", here, e, { error: outcome.error });
  e.request_attempts = 0;
  const child = batch.child(here.step, outcome.branch ?? null);
  if (!child) {
    finish(batch, e, "completed");
    batch.event("sequence.subscriber_completed", here, e, {});
    return false;
  }
  e.current_step_id = child.id;
  e.next_trigger_at = arrivalTime(child, batch.now, here.channel.timezone);
  return e.next_trigger_at <= batch.now;
}

function finish(batch: Batch, e: Enrollment, status: "completed" | "removed"): void {
  e.status = status;
  e.next_trigger_at = null;
  // As the API's removal: completed_at says when an enrollment completed, not when it was removed.
  if (status === "completed") e.completed_at = batch.now;
}

function runAction(batch: Batch, e: Enrollment, here: Here): Outcome {
  switch (here.step.action) {
    case "entry_point":
    case "delay":
    case "delay_until_time":
      return NEXT;
    case "send_email":
      return sendEmail(batch, e, here);
    case "condition":
      return { kind: "next", branch: conditionMet(batch, e, here.step) ? "yes" : "no" };
    case "move_to_sequence":
      return moveToSequence(batch, e, here);
    case "add_tag_to_subscriber":
    case "remove_tag_from_subscriber":
      return changeTags(batch, here);
    case "deactivate_subscriber":
      batch.subscribers.set(here.subscriber.id, setActive(batch.deps, here.channel, here.subscriber, false, batch.tx));
      // The hooks paused the subscriber's enrollments, this one too: it stops on the next step.
      batch.resync(here.subscriber.id);
      return NEXT;
    case "make_http_request":
      return requestStep(batch, e, here);
  }
}

const CONDITIONS = {
  any_email_opened: "SELECT 1 FROM messages WHERE subscriber_id = ?1 AND sequence_id = ?2 AND opened_at IS NOT NULL LIMIT 1",
  any_email_clicked: "SELECT 1 FROM messages WHERE subscriber_id = ?1 AND sequence_id = ?2 AND clicked_at IS NOT NULL LIMIT 1",
  previous_email_opened: "SELECT 1 FROM messages WHERE id = ?1 AND opened_at IS NOT NULL",
  previous_email_clicked: "SELECT 1 FROM messages WHERE id = ?1 AND clicked_at IS NOT NULL",
};
type ConditionSetting = keyof typeof CONDITIONS;
const conditionStatements = new WeakMap<Database, Map<ConditionSetting, RawStatement>>();

/** `any_email_*`: any mail of this sequence to the subscriber; `previous_email_*`: its last one (`last_message_id`). */
function conditionMet(batch: Batch, e: Enrollment, step: SequenceStep): boolean {
  const setting = step.condition_setting as ConditionSetting;
  if (!(setting in CONDITIONS)) return false;
  const database = batch.deps.database;
  let q = conditionStatements.get(database);
  if (!q) conditionStatements.set(database, (q = new Map()));
  let stmt = q.get(setting);
  if (!stmt) q.set(setting, (stmt = database.raw.prepare(CONDITIONS[setting])));
  const found = setting.startsWith("previous_") ? stmt.get(e.last_message_id ?? 0) : stmt.get(e.subscriber_id, e.sequence_id);
  return found != null;
}

/**
 * Ends this enrollment with `sequence.subscriber_moved` and enrolls the subscriber in the target when
 * it is active and the subscriber eligible (already enrolled there: left as is). A target that is
 * gone or in another channel, or that the subscriber entered less than a minute ago (a loop of
 * moves), is reported and the subscriber goes on here.
 */
function moveToSequence(batch: Batch, e: Enrollment, here: Here): Outcome {
  const target = here.step.target_sequence_id === null ? null : batch.sequence(here.step.target_sequence_id);
  if (!target || target.id === here.sequence.id || target.channel_id !== here.sequence.channel_id) {
    return { kind: "next", error: `move_to_sequence: sequence ${here.step.target_sequence_id} is not another sequence of this channel` };
  }
  const enrolls = target.active && isEligible(batch.tx, here.subscriber);
  if (enrolls && reentryTooSoon(batch.tx, target.id, here.subscriber.id, batch.now)) {
    return { kind: "next", error: `move_to_sequence: the subscriber entered sequence ${target.id} less than a minute ago (moves in a loop with no wait)` };
  }
  finish(batch, e, "completed");
  batch.event("sequence.subscriber_moved", here, e, { to_sequence_id: target.id }, true);
  if (enrolls) enroll(batch.tx, batch.deps.clock, here.channel.slug, target, here.subscriber);
  return { kind: "left" };
}

/** `taggify_list` through the subscribers service (subscriber.updated, tag sync and its hooks as for the API). */
function changeTags(batch: Batch, here: Here): Outcome {
  const tags = readTags(here.step.taggify_list ?? "", "taggify_list", {});
  const change = here.step.action === "add_tag_to_subscriber" ? addTags : removeTags;
  try {
    batch.subscribers.set(here.subscriber.id, change(batch.deps, here.channel, here.subscriber, tags, batch.tx));
    return NEXT;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { kind: "next", error: `${here.step.action}: ${err.message}` };
  }
}
