/**
 * Form blocks (docs/api-reference.md §10): `opt_in_form_blocks` and `opt_in_post_submission_blocks`, each at most
 * 50, checked field by field with errors by dot-path (`opt_in_form_blocks.2.button_label`). The
 * initial view holds exactly one email input: added when missing, more than one is refused.
 */
import type { FormBlock } from "@/db/schema";
import type { FieldErrors } from "@/lib/errors";
import { coerceBoolean } from "@/input/fields";

export const MAX_BLOCKS = 50;
const BLOCK_TYPES = ["text", "input_field", "button"] as const;
const VALUE_TYPES = /^(email|first_name|last_name|name|custom:[A-Za-z0-9_]{1,64})$/;
const TEXT_LIMITS = { text_value: 5000, input_field_label: 255, input_field_placeholder: 255, button_label: 100, custom_css: 5000 } as const;

export type BlockInput = Omit<FormBlock, "id" | "form_view">;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** A list of blocks as sent; problems are added to `errors` under `param.<index>.<field>`. */
export function readBlocks(v: unknown, param: string, errors: FieldErrors): BlockInput[] {
  const problem = !Array.isArray(v) ? "must be an array" : v.length > MAX_BLOCKS ? `has too many blocks (maximum is ${MAX_BLOCKS})` : null;
  if (problem) {
    errors[param] = [problem];
    return [];
  }
  return (v as unknown[]).map((raw, i) => readBlock(raw, `${param}.${i}`, i, errors));
}

function readBlock(raw: unknown, at: string, index: number, errors: FieldErrors): BlockInput {
  const err = (field: string, message: string) => void (errors[field ? `${at}.${field}` : at] ??= []).push(message);
  const b: BlockInput = { block_type: "text", position: index, text_value: null, input_field_label: null, input_field_placeholder: null, input_field_value_type: null, required: false, button_label: null, custom_css: null };
  if (!isObject(raw)) {
    err("", "must be an object");
    return b;
  }
  if (!BLOCK_TYPES.includes(raw.block_type as never)) err("block_type", `must be one of ${BLOCK_TYPES.join(", ")}`);
  else b.block_type = raw.block_type as BlockInput["block_type"];
  if (raw.position !== undefined) {
    if (!Number.isSafeInteger(raw.position) || (raw.position as number) < 0) err("position", "must be a non-negative integer");
    else b.position = raw.position as number;
  }
  for (const [field, max] of Object.entries(TEXT_LIMITS) as [keyof typeof TEXT_LIMITS, number][]) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") err(field, "must be a string");
    else if ([...value].length > max) err(field, `is too long (maximum is ${max} characters)`);
    else b[field] = value;
  }
  if (raw.input_field_value_type !== undefined && raw.input_field_value_type !== null) {
    if (typeof raw.input_field_value_type !== "string" || !VALUE_TYPES.test(raw.input_field_value_type)) err("input_field_value_type", "must be email, first_name, last_name, name or custom:<key>");
    else b.input_field_value_type = raw.input_field_value_type;
  }
  if (raw.required !== undefined) {
    const required = coerceBoolean(raw.required);
    if (required === null) err("required", "must be true or false");
    else b.required = required;
  }
  if (b.block_type === "input_field" && b.input_field_value_type === null) err("input_field_value_type", "can't be blank");
  return b;
}

const isEmailInput = (b: BlockInput) => b.block_type === "input_field" && b.input_field_value_type === "email";

/** The initial view with exactly one email input (a required one is added first when missing). */
export function withEmailInput(blocks: BlockInput[], param: string, errors: FieldErrors): BlockInput[] {
  const emails = blocks.filter(isEmailInput).length;
  if (emails > 1) (errors[param] ??= []).push("must have exactly one email input");
  if (emails > 0) return blocks;
  if (blocks.length >= MAX_BLOCKS) (errors[param] ??= []).push(`has no email input and no room to add one (maximum is ${MAX_BLOCKS} blocks)`);
  const email: BlockInput = { block_type: "input_field", position: 0, text_value: null, input_field_label: "Email", input_field_placeholder: null, input_field_value_type: "email", required: true, button_label: null, custom_css: null };
  return [email, ...blocks.map((b) => ({ ...b, position: b.position + 1 }))];
}

/** Stored blocks: ordered by position, numbered from `firstId` on. */
export function numberBlocks(blocks: BlockInput[], view: FormBlock["form_view"], firstId: number): FormBlock[] {
  return [...blocks].sort((a, b) => a.position - b.position).map((b, i) => ({ id: firstId + i, form_view: view, ...b }));
}
