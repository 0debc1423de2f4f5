/**
 * Input rules for subscribers (API.md §3, §20): the field spec read by `readFields`, plus the tag
 * and custom_data checks that report nested problems by dot-path (`tags.3`, `custom_data.a.b`).
 * Shared by the single-record routes and the bulk import.
 */
import ipaddr from "ipaddr.js";
import { AppError, validationError, type FieldErrors } from "@/lib/errors";
import { f, readFields, result, type FieldSpec, type ReadOptions, type ReadResult } from "@/http/fields";
import type { Input } from "@/http/compat";
import { isEmail, normalizeEmail } from "@/lib/email";

export const MAX_TAGS = 100;
export const MAX_TAG_LENGTH = 64;
export const MAX_CUSTOM_KEYS = 100;
export const MAX_CUSTOM_KEY_LENGTH = 64;
export const MAX_CUSTOM_DEPTH = 3;
export const MAX_CUSTOM_BYTES = 16 * 1024;

/** An email as stored (trimmed, lower-case), or the §1.4 message for why it is not one. */
export function readEmail(v: unknown): { value: string } | { error: string } {
  if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) return { error: "can't be blank" };
  if (typeof v !== "string") return { error: "must be a string" };
  const email = normalizeEmail(v);
  if (email.length > 254) return { error: "is too long (maximum is 254 characters)" };
  return isEmail(email) ? { value: email } : { error: "is invalid" };
}

const readIp = (v: unknown) => (typeof v === "string" && ipaddr.isValid(v.trim()) ? result.ok(ipaddr.parse(v.trim()).toString()) : result.err("is not a valid IP address"));

/**
 * Tags as an array or a comma string → sorted, de-duplicated list; problems are added to `errors`
 * under `param` (or `param.<index>` for one element).
 */
export function readTags(v: unknown, param: string, errors: FieldErrors): string[] {
  let list: unknown[];
  if (typeof v === "string") list = v.split(",").map((t) => t.trim()).filter((t) => t !== "");
  else if (Array.isArray(v)) list = v;
  else {
    (errors[param] ??= []).push("must be an array of strings or a comma-separated string");
    return [];
  }
  const out = new Set<string>();
  list.forEach((raw, i) => {
    const at = Array.isArray(v) ? `${param}.${i}` : param;
    if (typeof raw !== "string") return void (errors[at] ??= []).push("must be a string");
    const tag = raw.trim();
    if (tag === "") (errors[at] ??= []).push("can't be blank");
    else if ([...tag].length > MAX_TAG_LENGTH) (errors[at] ??= []).push(`is too long (maximum is ${MAX_TAG_LENGTH} characters)`);
    else if (tag.includes(",")) (errors[at] ??= []).push("can't contain commas");
    else out.add(tag);
  });
  if (out.size > MAX_TAGS) (errors[param] ??= []).push(`has too many tags (maximum is ${MAX_TAGS})`);
  return [...out].sort();
}

/** Union of two tag lists, sorted. */
export const mergeTags = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])].sort();

/** Checks a custom_data object (keys, depth, size); problems are added to `errors` by dot-path. */
export function readCustomData(v: unknown, param: string, errors: FieldErrors): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    (errors[param] ??= []).push("must be an object");
    return {};
  }
  const data = v as Record<string, unknown>;
  const visit = (value: unknown, path: string, depth: number) => {
    if (value === null || typeof value !== "object") return;
    if (depth > MAX_CUSTOM_DEPTH) return void (errors[path] ??= []).push(`is nested too deeply (maximum depth is ${MAX_CUSTOM_DEPTH})`);
    for (const [k, child] of Object.entries(value)) {
      const at = `${path}.${k}`;
      if (!Array.isArray(value) && (k === "" || [...k].length > MAX_CUSTOM_KEY_LENGTH)) {
        (errors[at] ??= []).push(k === "" ? "key can't be blank" : `key is too long (maximum is ${MAX_CUSTOM_KEY_LENGTH} characters)`);
      }
      visit(child, at, depth + 1);
    }
  };
  visit(data, param, 1);
  checkCustomDataSize(data, param, errors);
  return data;
}

/** The whole-object limits, also re-checked after a merge. */
export function checkCustomDataSize(data: Record<string, unknown>, param: string, errors: FieldErrors): void {
  if (Object.keys(data).length > MAX_CUSTOM_KEYS) (errors[param] ??= []).push(`has too many keys (maximum is ${MAX_CUSTOM_KEYS})`);
  else if (Buffer.byteLength(JSON.stringify(data)) > MAX_CUSTOM_BYTES) (errors[param] ??= []).push(`is too large (maximum is ${MAX_CUSTOM_BYTES} bytes)`);
}

const passThrough = f.custom((v) => result.ok(v), { nullable: true });

/** §3 fields. `tags`/`custom_data` pass through here and are checked by `readSubscriberFields` (`null` clears them). */
export const SubscriberFields: Record<string, FieldSpec> = {
  email: f.custom(readEmail, { required: true }),
  first_name: f.string({ max: 100, nullable: true }),
  last_name: f.string({ max: 100, nullable: true }),
  ip_address: f.custom(readIp, { nullable: true }),
  is_active: f.boolean(),
  source: f.string({ max: 50, min: 1 }),
  subscribed_at: f.time(),
  confirmed_at: f.time(),
  tags: passThrough,
  custom_data: passThrough,
};

/**
 * readFields over SubscriberFields plus the nested tag/custom_data checks, every error reported at
 * once. `tags` come back normalised (sorted, unique).
 * @throws 422 with all field errors.
 */
export function readSubscriberFields(input: Input, o: ReadOptions, spec: Record<string, FieldSpec> = SubscriberFields): ReadResult {
  const errors: FieldErrors = {};
  let read: ReadResult | null = null;
  try {
    read = readFields(spec, input, o);
  } catch (e) {
    if (!(e instanceof AppError && e.details.errors)) throw e;
    Object.assign(errors, e.details.errors);
  }
  const wrapped = o.wrapper && isObject(input[o.wrapper]) ? (input[o.wrapper] as Input) : {};
  const source = (key: string): [unknown, string] | null =>
    key in wrapped ? [wrapped[key], `${o.wrapper}.${key}`] : key in input ? [input[key], key] : null;
  const values = read?.values ?? {};
  const tags = "tags" in spec ? source("tags") : null;
  if (tags && tags[0] !== null) values.tags = readTags(tags[0], tags[1], errors);
  const custom = "custom_data" in spec ? source("custom_data") : null;
  if (custom && custom[0] !== null) values.custom_data = readCustomData(custom[0], custom[1], errors);
  if (Object.keys(errors).length > 0) throw validationError(errors);
  return { values, warnings: read!.warnings };
}

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
