/**
 * Step fields, JSON and the rules of each action (docs/api-reference.md §6). A step stores only the
 * fields of its action: others sent are ignored with a warning, and every unused field reads `null`.
 * Where the step sits in the tree (parent, branch, position) is tree.ts.
 */
import { t, type Static } from "elysia";
import { and, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { sequences, templates, type Sequence, type SequenceStep, type SequenceStepAction } from "@/db/schema";
import { isTimeZone } from "@/features/channels/model";
import { tagsField } from "@/features/subscribers/fields";
import { f, result, type FieldValues, type Warning } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { validationError, type FieldErrors } from "@/lib/errors";
import { checkLiquid } from "@/lib/liquid";
import { addressPolicyOf, urlProblem } from "@/lib/ssrf";
import { toIso } from "@/lib/time";
import type { Config } from "@/config";

export const CONDITION_SETTINGS = ["any_email_opened", "previous_email_opened", "any_email_clicked", "previous_email_clicked"] as const;
export type StepAction = Exclude<SequenceStepAction, "entry_point">;
const ACTIONS = ["delay", "delay_until_time", "send_email", "condition", "move_to_sequence", "add_tag_to_subscriber", "remove_tag_from_subscriber", "deactivate_subscriber", "make_http_request"] as const satisfies readonly StepAction[];
const BODY_MAX_BYTES = 1024 * 1024;

/** The action fields each action uses (all others are stored as null). */
const ACTION_FIELDS = {
  delay: ["delay"],
  delay_until_time: ["delay_until_time", "delay_until_timezone"],
  send_email: ["subject", "preheader", "body", "html_body", "template_id"],
  condition: ["condition_setting"],
  move_to_sequence: ["target_sequence_id"],
  add_tag_to_subscriber: ["taggify_list"],
  remove_tag_from_subscriber: ["taggify_list"],
  deactivate_subscriber: [],
  make_http_request: ["http_url", "http_method", "http_headers", "http_body"],
} as const satisfies Record<StepAction, readonly string[]>;
type ActionField = (typeof ACTION_FIELDS)[StepAction][number];
const ALL_ACTION_FIELDS = [...new Set(Object.values(ACTION_FIELDS).flat())] as ActionField[];

const text = (max: number) =>
  f.custom((v) => (typeof v !== "string" ? result.err("must be a string") : Buffer.byteLength(v, "utf8") > max ? result.err(`is too long (maximum is ${max} bytes)`) : result.ok(v)), {
    nullable: true,
    schema: { type: "string", description: `Liquid; at most ${max} bytes in UTF-8` },
  });

const headers = f.custom(
  (v) => {
    // RFC 9110 token names; values on one line (a line break would forge another header).
    const ok = typeof v === "object" && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, val]) => /^[!#$%&'*+.^_`|~\w-]+$/.test(k) && typeof val === "string" && !/[\r\n\0]/.test(val));
    return ok ? result.ok(v as Record<string, string>) : result.err("must be an object of header names to string values");
  },
  { nullable: true, schema: { type: "object", additionalProperties: { type: "string" } } },
);

export const StepFields = {
  action: f.enum(ACTIONS, { required: true }),
  label: f.string({ max: 255, nullable: true }),
  parent_id: f.integer({ min: 1, description: "Default: the root entry_point" }),
  branch: f.enum(["yes", "no"] as const, { nullable: true, description: "Required under a condition step" }),
  delay: f.integer({ min: 60, max: 31_536_000, nullable: true, description: "Seconds" }),
  delay_until_time: f.string({ pattern: /^([01]\d|2[0-3]):[0-5]\d$/, nullable: true, description: "HH:MM" }),
  delay_until_timezone: f.custom((v) => (typeof v === "string" && isTimeZone(v) ? result.ok(v) : result.err("is not a valid IANA time zone")), {
    nullable: true,
    schema: { type: "string", description: "IANA time zone (default: the channel's)" },
  }),
  subject: f.string({ max: 998, nullable: true, trim: false }),
  preheader: f.string({ max: 255, nullable: true, trim: false }),
  body: text(BODY_MAX_BYTES),
  html_body: f.boolean({ nullable: true }),
  template_id: f.integer({ min: 1, nullable: true }),
  condition_setting: f.enum(CONDITION_SETTINGS, { nullable: true }),
  taggify_list: tagsField(),
  tags: tagsField(),
  target_sequence_id: f.integer({ min: 1, nullable: true }),
  http_url: f.string({ max: 2048, nullable: true }),
  http_method: f.enum(["GET", "POST"] as const, { nullable: true }),
  http_headers: headers,
  http_body: text(64 * 1024),
};
export type StepValues = FieldValues<typeof StepFields, true>;

/** The §6 step object: every action field, null when unused. */
export const StepSchema = Strict({
  id: Int(),
  sequence_id: Int(),
  action: t.String(),
  label: Nullable(t.String()),
  parent_id: Nullable(Int()),
  branch: Nullable(t.Union([t.Literal("yes"), t.Literal("no")])),
  position: Int({ description: "Pre-order index in the tree (root 0)" }),
  delay: Nullable(Int()),
  delay_until_time: Nullable(t.String()),
  delay_until_timezone: Nullable(t.String()),
  subject: Nullable(t.String()),
  preheader: Nullable(t.String()),
  body: Nullable(t.String()),
  html_body: Nullable(t.Boolean()),
  template_id: Nullable(Int()),
  condition_setting: Nullable(t.String()),
  taggify_list: Nullable(t.String()),
  target_sequence_id: Nullable(Int()),
  http_url: Nullable(t.String()),
  http_method: Nullable(t.String()),
  http_headers: Nullable(t.Record(t.String(), t.String())),
  http_body: Nullable(t.String()),
  created_at: Time,
  updated_at: Time,
});

export function encodeStep(s: SequenceStep): Static<typeof StepSchema> {
  const { id, sequence_id, action, label, parent_id, branch, position, created_at, updated_at } = s;
  const fields = Object.fromEntries(ALL_ACTION_FIELDS.map((k) => [k, s[k]])) as Pick<SequenceStep, ActionField>;
  return { id, sequence_id, action, label, parent_id, branch, position, ...fields, created_at: toIso(created_at), updated_at: toIso(updated_at) };
}

/**
 * The action columns of a create (`current` null) or update: the present fields of the action
 * (`tags` read as `taggify_list`), others warned about; then the merged step is checked against its
 * action's rules and the sequence's channel. @throws 422 with every problem by field.
 */
export function actionColumns(db: Db, config: Config, sequence: Sequence, action: StepAction, v: StepValues, current: SequenceStep | null, warnings: Warning[]) {
  const given: Record<string, unknown> = { ...v };
  if (v.tags !== undefined) given.taggify_list = [...new Set([...(v.taggify_list ?? []), ...(v.tags ?? [])])];
  const used = ACTION_FIELDS[action] as readonly string[];
  const out: Partial<SequenceStep> = {};
  for (const key of ALL_ACTION_FIELDS) {
    if (given[key] === undefined) continue;
    if (!used.includes(key)) warnings.push({ code: "parameter_ignored", param: key, message: `${key} is not used by ${action} steps and was ignored` });
    else (out as Record<string, unknown>)[key] = key === "taggify_list" ? (given[key] as string[] | null)?.join(",") || null : given[key];
  }
  if (v.tags !== undefined && !used.includes("taggify_list")) warnings.push({ code: "parameter_ignored", param: "tags", message: `tags is not used by ${action} steps and was ignored` });
  if (action === "send_email" && !current && out.html_body == null) out.html_body = true;
  if (action === "make_http_request" && !current && out.http_method == null) out.http_method = "POST";
  checkAction(db, config, sequence, action, { ...(current ?? {}), ...out });
  return out;
}

function checkAction(db: Db, config: Config, sequence: Sequence, action: StepAction, s: Partial<SequenceStep>): void {
  const errors: FieldErrors = {};
  const blank = (key: string, unless = "") => (errors[key] = [`can't be blank${unless}`]);
  if (action === "delay" && s.delay == null) blank("delay");
  if (action === "delay_until_time" && !s.delay_until_time) blank("delay_until_time");
  if (action === "condition" && !s.condition_setting) blank("condition_setting");
  if ((action === "add_tag_to_subscriber" || action === "remove_tag_from_subscriber") && !s.taggify_list) blank("taggify_list");
  if (action === "send_email") {
    if (s.template_id != null) {
      if (!db.select({ id: templates.id }).from(templates).where(and(eq(templates.id, s.template_id), eq(templates.channel_id, sequence.channel_id))).get()) {
        errors.template_id = ["does not exist in this channel"];
      }
    } else {
      if (!s.subject?.trim()) blank("subject", " unless template_id is given");
      if (!s.body?.trim()) blank("body", " unless template_id is given");
    }
    for (const key of ["subject", "preheader", "body"] as const) {
      const message = checkLiquid(s[key]);
      if (message) errors[key] = [message];
    }
  }
  if (action === "move_to_sequence") {
    if (s.target_sequence_id == null) blank("target_sequence_id");
    else if (s.target_sequence_id === sequence.id) errors.target_sequence_id = ["can't be the sequence itself"];
    else if (!db.select({ id: sequences.id }).from(sequences).where(and(eq(sequences.id, s.target_sequence_id), eq(sequences.channel_id, sequence.channel_id))).get()) {
      errors.target_sequence_id = ["does not exist in this channel"];
    }
  }
  if (action === "make_http_request") {
    const problem = s.http_url ? urlProblem(s.http_url, addressPolicyOf(config)) : "can't be blank";
    if (problem) errors.http_url = [problem];
    const message = checkLiquid(s.http_body);
    if (message) errors.http_body = [message];
  }
  if (Object.keys(errors).length) throw validationError(errors);
}
