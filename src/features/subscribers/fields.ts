/**
 * Input rules for subscribers (docs/api-reference.md §3, §20): the field spec read by `readFields`, whose tag and
 * custom_data readers report nested problems by dot-path (`tags.3`, `custom_data.a.b`), the list
 * filters, and the double opt-in options (§3, §4). Shared by the single-record routes and the bulk import.
 */
import ipaddr from "ipaddr.js";
import type { FieldErrors } from "@/lib/errors";
import { coerceBoolean, f, result } from "@/input/fields";
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

const TAGS_SCHEMA = {
  description: `Tags (array or comma string), at most ${MAX_TAGS} of at most ${MAX_TAG_LENGTH} characters`,
  anyOf: [{ type: "array", items: { type: "string", maxLength: MAX_TAG_LENGTH }, maxItems: MAX_TAGS }, { type: "string" }],
};

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

/** An email field: stored form, §1.4 messages. */
export const emailField = () => f.custom(readEmail, { required: true, schema: { type: "string", format: "email", maxLength: 254 } });
/** Tags, sorted and de-duplicated (`null` clears). */
export const tagsField = <const R extends boolean = false>(required?: R) =>
  f.custom((v, at) => result.ok(readTags(v, at.param, at.errors)), { nullable: true, required: (required ?? false) as R, schema: TAGS_SCHEMA });

/** §3 fields. */
export const SubscriberFields = {
  email: emailField(),
  first_name: f.string({ max: 100, nullable: true }),
  last_name: f.string({ max: 100, nullable: true }),
  ip_address: f.custom(readIp, { nullable: true, schema: { type: "string", description: "IPv4 or IPv6" } }),
  is_active: f.boolean(),
  source: f.string({ max: 50, min: 1 }),
  subscribed_at: f.time(),
  confirmed_at: f.time(),
  tags: tagsField(),
  custom_data: f.custom((v, at) => result.ok(readCustomData(v, at.param, at.errors)), {
    nullable: true,
    schema: { type: "object", description: `At most ${MAX_CUSTOM_KEYS} keys, ${MAX_CUSTOM_DEPTH} levels deep, ${MAX_CUSTOM_BYTES} bytes` },
  }),
};

/** What a `double_opt_in` option asks for (§3, §4): the confirmation mail's template, Reply-To and unsubscribe link. */
export interface DoubleOptIn {
  templateId: number | null;
  replyTo: string | null;
  includeUnsubscribeLink: boolean;
  /** The hosted form asking (its automation runs on confirmation), stored on the confirmation email. */
  formId?: number;
}

const DOI_KEYS = ["reply_to", "confirmation_template_id", "include_unsubscribe_link"];

/** `true`/`false` (or their strings), or `{reply_to, confirmation_template_id, include_unsubscribe_link}`. */
function readDoubleOptIn(v: unknown, at: { param: string; errors: FieldErrors }) {
  const b = coerceBoolean(v);
  if (b !== null) return result.ok<Partial<DoubleOptIn> | false>(b ? {} : false);
  if (!isObject(v)) return result.err("must be true, false or an object");
  const out: Partial<DoubleOptIn> = {};
  for (const key of Object.keys(v)) if (!DOI_KEYS.includes(key)) (at.errors[`${at.param}.${key}`] ??= []).push(`is not a double_opt_in option (${DOI_KEYS.join(", ")})`);
  if (v.reply_to !== undefined && v.reply_to !== null) {
    if (typeof v.reply_to !== "string" || !isEmail(normalizeEmail(v.reply_to))) (at.errors[`${at.param}.reply_to`] ??= []).push("is invalid");
    else out.replyTo = v.reply_to.trim();
  }
  if (v.confirmation_template_id !== undefined && v.confirmation_template_id !== null) {
    if (!Number.isSafeInteger(v.confirmation_template_id)) (at.errors[`${at.param}.confirmation_template_id`] ??= []).push("must be an integer");
    else out.templateId = v.confirmation_template_id as number;
  }
  if (v.include_unsubscribe_link !== undefined) {
    const inc = coerceBoolean(v.include_unsubscribe_link);
    if (inc === null) (at.errors[`${at.param}.include_unsubscribe_link`] ??= []).push("must be true or false");
    else out.includeUnsubscribeLink = inc;
  }
  return result.ok<Partial<DoubleOptIn> | false>(out);
}

/** Top-level options of the routes that send a confirmation email (§3, §4, §10.2). */
export const DoubleOptInOptions = {
  double_opt_in: f.custom(readDoubleOptIn, {
    nullable: true,
    schema: {
      description: "Ask the subscriber to confirm first: true, or {reply_to, confirmation_template_id, include_unsubscribe_link}",
      anyOf: [{ type: "boolean" }, { type: "object", properties: { reply_to: { type: "string" }, confirmation_template_id: { type: "integer" }, include_unsubscribe_link: { type: "boolean" } } }],
    },
  }),
  confirmation_template_id: f.integer({ nullable: true, description: "Template of the confirmation email (default: the channel's default confirmation template, else a built-in one)" }),
};

/** The double opt-in asked for by the options, or null (not asked). The nested template id wins over the top-level one. */
export function doubleOptInOf(options: { double_opt_in?: Partial<DoubleOptIn> | false | null; confirmation_template_id?: number | null }): DoubleOptIn | null {
  const doi = options.double_opt_in;
  if (!doi) return null;
  return {
    templateId: doi.templateId ?? options.confirmation_template_id ?? null,
    replyTo: doi.replyTo ?? null,
    includeUnsubscribeLink: doi.includeUnsubscribeLink ?? false,
  };
}

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
