/**
 * The §7 rule catalogue (fields, their types and operators) and the reader that turns
 * `segment_groups_attributes` input into normalised group/rule definitions, reporting every
 * problem on the rule's own dot-path (`segment_groups_attributes.0.segment_rules_attributes.1.operator`).
 */
import type { FieldErrors } from "@/lib/errors";
import { coerceBoolean, type Warning } from "@/input/fields";
import { parseIsoTime } from "@/lib/time";

export type RuleType = "text" | "array" | "boolean" | "number" | "date";

export const OPERATORS: Record<RuleType, readonly string[]> = {
  text: ["equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "is_empty", "is_not_empty"],
  array: ["contains", "not_contains", "is_empty", "is_not_empty"],
  boolean: ["is_true", "is_false"],
  number: ["equals", "not_equals", "greater_than", "less_than", "greater_than_or_equal", "less_than_or_equal"],
  date: ["equals", "before", "after", "within_last_days", "not_within_last_days", "never", "is_empty", "is_not_empty"],
};

/** Built-in fields and their (derived) rule types. */
export const FIELDS: Record<string, RuleType> = {
  email: "text",
  first_name: "text",
  last_name: "text",
  source: "text",
  confirmation_status: "text",
  tags: "array",
  is_active: "boolean",
  has_opened_any_email: "boolean",
  has_clicked_any_email: "boolean",
  total_emails_sent: "number",
  total_emails_opened: "number",
  total_emails_clicked: "number",
  created_at: "date",
  subscribed_at: "date",
  last_email_sent_at: "date",
  last_email_opened_at: "date",
  last_email_clicked_at: "date",
};

export const CUSTOM_PREFIX = "custom_data.";
/** Operators that take no value. */
const NO_VALUE = new Set(["is_empty", "is_not_empty", "is_true", "is_false", "never"]);
const DAY_OPERATORS = new Set(["within_last_days", "not_within_last_days"]);
const DEFAULT_VALUE_TYPE: Record<RuleType, string> = { text: "string", array: "string", boolean: "boolean", number: "number", date: "date" };

export const MAX_GROUPS = 20;
export const MAX_RULES = 50;
const MAX_VALUE = 1000;
const MAX_DAYS = 36_500;

export interface RuleDef {
  field: string;
  operator: string;
  /** Normalised: numbers as decimal strings, dates as "YYYY-MM-DD", day counts as integers. */
  value: string | null;
  secondary_value: string | null;
  rule_type: RuleType;
  value_type: string;
  is_negative: boolean;
  case_sensitive: boolean;
}
export interface GroupDef {
  match_type: "all" | "any";
  rules: RuleDef[];
}

/** The custom_data key of a `custom_data.<key>` field (the whole rest, dots included), or null. */
export function customKey(field: string): string | null {
  return field.startsWith(CUSTOM_PREFIX) ? field.slice(CUSTOM_PREFIX.length) : null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const GROUP_KEYS = ["match_type", "segment_rules_attributes", "segment_rules"];
const RULE_KEYS = ["field", "operator", "value", "secondary_value", "rule_type", "value_type", "is_negative", "case_sensitive"];

/** Reads one rule; pushes errors under `path.<param>`. */
function readRule(raw: unknown, path: string, errors: FieldErrors, warnings: Warning[]): RuleDef | null {
  const fail = (param: string, message: string) => void (errors[param ? `${path}.${param}` : path] ??= []).push(message);
  if (!isObject(raw)) {
    fail("", "must be an object");
    return null;
  }
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.includes(key)) warnings.push({ code: "unrecognized_parameter", param: `${path}.${key}`, message: `${path}.${key} is not a parameter of this route` });
  }
  const before = Object.keys(errors).length;
  const field = typeof raw.field === "string" ? raw.field.trim() : "";
  let type: RuleType | null = null;
  const key = customKey(field);
  if (!field) fail("field", "can't be blank");
  else if (key !== null) {
    if (key === "" || [...key].length > 64 || /["\u0000-\u001f]/.test(key)) fail("field", "has an invalid custom_data key");
    const given = raw.rule_type ?? "text";
    if (typeof given === "string" && Object.hasOwn(OPERATORS, given)) type = given as RuleType;
    else fail("rule_type", "is not included in the list");
  } else if (Object.hasOwn(FIELDS, field)) type = FIELDS[field];
  else fail("field", "is not included in the list");

  const operator = typeof raw.operator === "string" ? raw.operator.trim() : "";
  if (!operator) fail("operator", "can't be blank");
  else if (type && !OPERATORS[type].includes(operator)) fail("operator", `is not valid for a ${type} field (${OPERATORS[type].join(", ")})`);

  let value: string | null = null;
  if (type && operator && OPERATORS[type].includes(operator) && !NO_VALUE.has(operator)) {
    const result = readValue(type, operator, raw.value);
    if ("error" in result) fail("value", result.error);
    else value = result.value;
  }

  const flag = (name: string) => {
    if (raw[name] === undefined || raw[name] === null) return false;
    const b = coerceBoolean(raw[name]);
    if (b === null) fail(name, "must be true or false");
    return b ?? false;
  };
  const is_negative = flag("is_negative");
  const case_sensitive = flag("case_sensitive");
  const text = (name: string, max: number): string | null => {
    const v = raw[name];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return fail(name, "must be a string"), null;
    const s = String(v);
    if ([...s].length > max) return fail(name, `is too long (maximum is ${max} characters)`), null;
    return s;
  };
  const secondary_value = text("secondary_value", MAX_VALUE);
  const value_type = text("value_type", 50);

  if (Object.keys(errors).length > before || !type) return null;
  return { field, operator, value, secondary_value, rule_type: type, value_type: value_type ?? DEFAULT_VALUE_TYPE[type], is_negative, case_sensitive };
}

/** Validates and normalises a rule value for its type and operator. */
function readValue(type: RuleType, operator: string, v: unknown): { value: string } | { error: string } {
  if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) return { error: "can't be blank" };
  if (type === "number") {
    const n = typeof v === "number" ? v : typeof v === "string" && /^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(v) ? Number(v) : NaN;
    return Number.isFinite(n) ? { value: String(n) } : { error: "is not a number" };
  }
  if (type === "date") {
    if (DAY_OPERATORS.has(operator)) {
      const n = typeof v === "number" ? v : typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
      return Number.isSafeInteger(n) && n >= 0 && n <= MAX_DAYS ? { value: String(n) } : { error: `must be a whole number of days (0 to ${MAX_DAYS})` };
    }
    const ms = parseIsoTime(typeof v === "string" ? v.trim() : v);
    return ms === null ? { error: "is not a valid ISO-8601 date" } : { value: new Date(ms).toISOString().slice(0, 10) };
  }
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return { error: "must be a string" };
  const s = String(v);
  return [...s].length > MAX_VALUE ? { error: `is too long (maximum is ${MAX_VALUE} characters)` } : { value: s };
}

/**
 * Reads the groups array given under `key` (`segment_groups_attributes` or `segment_groups`).
 * Problems are added to `errors` on exact dot-paths; returns null when there were any.
 */
export function readGroups(raw: unknown, key: string, errors: FieldErrors, warnings: Warning[]): GroupDef[] | null {
  if (!Array.isArray(raw)) {
    errors[key] = ["must be an array"];
    return null;
  }
  if (raw.length > MAX_GROUPS) {
    errors[key] = [`is too long (maximum is ${MAX_GROUPS} groups)`];
    return null;
  }
  const before = Object.keys(errors).length;
  const groups: GroupDef[] = [];
  raw.forEach((g, i) => {
    const path = `${key}.${i}`;
    if (!isObject(g)) {
      errors[path] = ["must be an object"];
      return;
    }
    for (const k of Object.keys(g)) {
      if (!GROUP_KEYS.includes(k)) warnings.push({ code: "unrecognized_parameter", param: `${path}.${k}`, message: `${path}.${k} is not a parameter of this route` });
    }
    const matchType = g.match_type ?? "all";
    if (matchType !== "all" && matchType !== "any") errors[`${path}.match_type`] = ["is not included in the list"];
    const rulesKey = "segment_rules_attributes" in g ? "segment_rules_attributes" : "segment_rules";
    const rawRules = g[rulesKey] ?? [];
    const rulesPath = `${path}.${rulesKey}`;
    if (!Array.isArray(rawRules)) {
      errors[rulesPath] = ["must be an array"];
      return;
    }
    if (rawRules.length > MAX_RULES) {
      errors[rulesPath] = [`is too long (maximum is ${MAX_RULES} rules)`];
      return;
    }
    const rules = rawRules.map((r, j) => readRule(r, `${rulesPath}.${j}`, errors, warnings));
    groups.push({ match_type: matchType as "all" | "any", rules: rules.filter((r): r is RuleDef => r !== null) });
  });
  return Object.keys(errors).length > before ? null : groups;
}
