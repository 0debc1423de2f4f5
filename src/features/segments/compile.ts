/**
 * Compiles a segment definition into ONE SQL condition over `subscribers` (docs/api-reference.md §7): groups OR'd,
 * rules AND/OR'd per `match_type`, `is_negative` as NOT. Every rule predicate is 0/1, never NULL,
 * so negation is exact. Tags use the indexed `subscriber_tags` table; custom data uses
 * `json_extract`. Nothing is loaded into memory: callers count or page with this condition.
 *
 * Text comparisons are case-insensitive via SQLite `lower()` (ASCII letters) unless
 * `case_sensitive`; emails are stored lower-cased, so email rules compare the raw column (index-friendly).
 */
import { and, isNull, or, sql, type SQL } from "drizzle-orm";
import { subscriber_tags, subscribers } from "@/db/schema";
import { customKey, type GroupDef, type RuleDef, type RuleType } from "./rules";

const DAY_MS = 86_400_000;
const TRUE = sql`1`;
const FALSE = sql`0`;

export interface CompileContext {
  channelId: number;
  /** Reference time for `within_last_days` (unix ms). */
  now: number;
}

/** Lower-cases ASCII letters only, exactly like SQLite's built-in `lower()`. */
export const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const s = subscribers;

/** Built-in columns whose value may be NULL (their predicates are wrapped in coalesce). */
const TEXT_COLUMNS: Record<string, SQL> = {
  email: sql`${s.email}`,
  first_name: sql`coalesce(${s.first_name}, '')`,
  last_name: sql`coalesce(${s.last_name}, '')`,
  source: sql`${s.source}`,
  confirmation_status: sql`(CASE WHEN ${s.confirmed_at} IS NOT NULL THEN 'confirmed' WHEN ${s.confirmation_sent_at} IS NOT NULL THEN 'pending' ELSE 'unconfirmed' END)`,
};
const BOOLEAN_COLUMNS: Record<string, SQL> = {
  is_active: sql`(${s.is_active} = 1)`,
  has_opened_any_email: sql`(${s.total_emails_opened} > 0)`,
  has_clicked_any_email: sql`(${s.total_emails_clicked} > 0)`,
};
const NUMBER_COLUMNS: Record<string, SQL> = {
  total_emails_sent: sql`${s.total_emails_sent}`,
  total_emails_opened: sql`${s.total_emails_opened}`,
  total_emails_clicked: sql`${s.total_emails_clicked}`,
};
const DATE_COLUMNS: Record<string, SQL> = {
  created_at: sql`${s.created_at}`,
  subscribed_at: sql`${s.subscribed_at}`,
  last_email_sent_at: sql`${s.last_email_sent_at}`,
  last_email_opened_at: sql`${s.last_email_opened_at}`,
  last_email_clicked_at: sql`${s.last_email_clicked_at}`,
};

/** A JSON path for one top-level key, quoted so dots and spaces stay part of the key. */
const jsonPath = (key: string) => `$."${key}"`;

function textPredicate(expr: SQL, rule: RuleDef, isEmail: boolean): SQL {
  if (rule.operator === "is_empty") return sql`(${expr} = '')`;
  if (rule.operator === "is_not_empty") return sql`(${expr} <> '')`;
  const raw = rule.value ?? "";
  // Emails are stored lower-cased (full Unicode), so the column needs no lower() and keeps its index.
  const v = rule.case_sensitive ? raw : isEmail ? raw.toLowerCase() : asciiLower(raw);
  const e = rule.case_sensitive || isEmail ? expr : sql`lower(${expr})`;
  switch (rule.operator) {
    case "equals":
      return sql`(${e} = ${v})`;
    case "not_equals":
      return sql`(${e} <> ${v})`;
    case "contains":
      return sql`(instr(${e}, ${v}) > 0)`;
    case "not_contains":
      return sql`(instr(${e}, ${v}) = 0)`;
    case "starts_with":
      return sql`(substr(${e}, 1, length(${v})) = ${v})`;
    case "ends_with":
      return sql`(substr(${e}, -length(${v})) = ${v})`;
  }
  throw new Error(`unknown text operator ${rule.operator}`);
}

function numberPredicate(expr: SQL, rule: RuleDef): SQL {
  const v = Number(rule.value);
  switch (rule.operator) {
    case "equals":
      return sql`(${expr} = ${v})`;
    case "not_equals":
      return sql`(${expr} <> ${v})`;
    case "greater_than":
      return sql`(${expr} > ${v})`;
    case "less_than":
      return sql`(${expr} < ${v})`;
    case "greater_than_or_equal":
      return sql`(${expr} >= ${v})`;
    case "less_than_or_equal":
      return sql`(${expr} <= ${v})`;
  }
  throw new Error(`unknown number operator ${rule.operator}`);
}

/** Date rules over an expression in unix ms that may be NULL (never / empty). */
function datePredicate(expr: SQL, rule: RuleDef, now: number): SQL {
  const dayStart = () => Date.parse(`${rule.value}T00:00:00.000Z`);
  switch (rule.operator) {
    case "never":
    case "is_empty":
      return sql`(${expr} IS NULL)`;
    case "is_not_empty":
      return sql`(${expr} IS NOT NULL)`;
    case "equals": {
      const d = dayStart();
      return sql`coalesce(${expr} >= ${d} AND ${expr} < ${d + DAY_MS}, 0)`;
    }
    case "before":
      return sql`coalesce(${expr} < ${dayStart()}, 0)`;
    case "after":
      return sql`coalesce(${expr} >= ${dayStart() + DAY_MS}, 0)`;
    case "within_last_days":
      return sql`coalesce(${expr} >= ${now - Number(rule.value) * DAY_MS}, 0)`;
    case "not_within_last_days":
      return sql`(NOT coalesce(${expr} >= ${now - Number(rule.value) * DAY_MS}, 0))`;
  }
  throw new Error(`unknown date operator ${rule.operator}`);
}

function tagsPredicate(rule: RuleDef, channelId: number): SQL {
  // A non-correlated IN is evaluated once (index subscriber_tags_channel_tag_idx), not per row.
  const members = sql`(SELECT ${subscriber_tags.subscriber_id} FROM ${subscriber_tags} WHERE ${subscriber_tags.channel_id} = ${channelId} AND ${subscriber_tags.tag} = ${rule.value})`;
  switch (rule.operator) {
    case "contains":
      return sql`(${s.id} IN ${members})`;
    case "not_contains":
      return sql`(${s.id} NOT IN ${members})`;
    case "is_empty":
      return sql`(json_array_length(${s.tags}) = 0)`;
    case "is_not_empty":
      return sql`(json_array_length(${s.tags}) > 0)`;
  }
  throw new Error(`unknown tags operator ${rule.operator}`);
}

/**
 * custom_data.<key> by rule_type. Values of another JSON type than the rule's count as absent:
 * text sees strings (and integers as their digits), number sees JSON numbers, boolean sees JSON
 * true, date sees strings SQLite can parse as dates, array sees JSON arrays of strings/integers.
 */
function customPredicate(key: string, rule: RuleDef, now: number): SQL {
  const path = jsonPath(key);
  const type = sql`json_type(${s.custom_data}, ${path})`;
  const value = sql`json_extract(${s.custom_data}, ${path})`;
  switch (rule.rule_type as RuleType) {
    case "text":
      return textPredicate(sql`(CASE ${type} WHEN 'text' THEN ${value} WHEN 'integer' THEN CAST(${value} AS TEXT) ELSE '' END)`, rule, false);
    case "number":
      return sql`(CASE WHEN ${type} IN ('integer', 'real') THEN ${numberPredicate(value, rule)} ELSE 0 END)`;
    case "boolean":
      return rule.operator === "is_true" ? sql`(${type} IS 'true')` : sql`(${type} IS NOT 'true')`;
    case "date":
      return datePredicate(sql`(CASE ${type} WHEN 'text' THEN (julianday(${value}) - 2440587.5) * 86400000.0 END)`, rule, now);
    case "array": {
      if (rule.operator === "is_empty") return sql`(coalesce(json_array_length(${s.custom_data}, ${path}), 0) = 0)`;
      if (rule.operator === "is_not_empty") return sql`(coalesce(json_array_length(${s.custom_data}, ${path}), 0) > 0)`;
      const raw = rule.value ?? "";
      const elem = rule.case_sensitive ? sql`CAST(e.value AS TEXT)` : sql`lower(CAST(e.value AS TEXT))`;
      const v = rule.case_sensitive ? raw : asciiLower(raw);
      const has = sql`(${type} IS 'array' AND EXISTS (SELECT 1 FROM json_each(${s.custom_data}, ${path}) AS e WHERE e.type IN ('text', 'integer') AND ${elem} = ${v}))`;
      return rule.operator === "contains" ? has : sql`(NOT ${has})`;
    }
  }
}

function rulePredicate(rule: RuleDef, ctx: CompileContext): SQL {
  const key = customKey(rule.field);
  let p: SQL;
  if (key !== null) p = customPredicate(key, rule, ctx.now);
  else if (rule.field in TEXT_COLUMNS) p = textPredicate(TEXT_COLUMNS[rule.field], rule, rule.field === "email");
  else if (rule.field === "tags") p = tagsPredicate(rule, ctx.channelId);
  else if (rule.field in BOOLEAN_COLUMNS) p = rule.operator === "is_true" ? BOOLEAN_COLUMNS[rule.field] : sql`(NOT ${BOOLEAN_COLUMNS[rule.field]})`;
  else if (rule.field in NUMBER_COLUMNS) p = numberPredicate(NUMBER_COLUMNS[rule.field], rule);
  else if (rule.field in DATE_COLUMNS) p = datePredicate(DATE_COLUMNS[rule.field], rule, ctx.now);
  else throw new Error(`unknown segment field ${rule.field}`);
  return rule.is_negative ? sql`(NOT ${p})` : p;
}

/** Relative evaluation cost: plain columns, then the tag set probe, then string functions, then JSON. */
function cost(rule: RuleDef): number {
  if (customKey(rule.field) !== null) return 3;
  if (rule.field === "tags") return rule.operator.endsWith("contains") ? 1 : 2;
  return rule.field in TEXT_COLUMNS ? 2 : 0;
}

function groupPredicate(group: GroupDef, ctx: CompileContext): SQL {
  if (group.rules.length === 0) return TRUE;
  // SQLite evaluates AND/OR terms left to right and stops early, so cheap rules go first
  // (reordering pure predicates never changes the result).
  const ordered = [...group.rules].sort((a, b) => cost(a) - cost(b));
  const parts = ordered.map((r) => rulePredicate(r, ctx));
  return (group.match_type === "any" ? or(...parts) : and(...parts)) ?? FALSE;
}

/**
 * The membership condition of a segment over `subscribers`: the channel, not redacted, and the
 * groups OR'd (no groups or an empty group = every subscriber). Reusable in any query on `subscribers`.
 */
export function compileSegment(groups: readonly GroupDef[], ctx: CompileContext): SQL {
  const base = and(sql`${s.channel_id} = ${ctx.channelId}`, isNull(s.redacted_at))!;
  if (groups.length === 0) return base;
  return and(base, or(...groups.map((g) => groupPredicate(g, ctx))))!;
}
