/**
 * Declarative field reading for request bodies: coercion (API.md §1.2: booleans from "true"/"1",
 * integers from digit strings), Rails-style 422 messages keyed by dot-path, and `warnings` for
 * parameters the route does not define (§1.3).
 */
import { parseIsoTime } from "@/lib/time";
import { SELECTOR_KEYS, type Input } from "./compat";
import { validationError, type FieldErrors } from "@/lib/errors";

export type Warning = { code: "unrecognized_parameter" | "parameter_ignored" | "value_adjusted"; param: string; message: string };

/** A read value, an error (422), or a value ignored with a `parameter_ignored` warning. */
type Result = { value: unknown } | { error: string } | { ignored: string };
export interface FieldSpec {
  read(value: unknown): Result;
  required?: boolean;
  nullable?: boolean;
  /** What `null` sets the field to, for fields whose "cleared" state is not null (e.g. a default). */
  nullAs?: unknown;
}

/** Why an unparseable time filter was ignored (after the parameter name). */
export const IGNORED_TIME = "is not a valid ISO-8601 time and was ignored";

const ok = (value: unknown): Result => ({ value });
const err = (error: string): Result => ({ error });

interface Common {
  required?: boolean;
  nullable?: boolean;
  nullAs?: unknown;
}

export const f = {
  string: (o: Common & { max?: number; min?: number; pattern?: RegExp; trim?: boolean } = {}): FieldSpec => ({
    ...o,
    read(v) {
      if (typeof v === "number" || typeof v === "boolean") v = String(v);
      if (typeof v !== "string") return err("must be a string");
      const s = o.trim === false ? v : v.trim();
      if (o.required && s === "") return err("can't be blank");
      if (o.max !== undefined && [...s].length > o.max) return err(`is too long (maximum is ${o.max} characters)`);
      if (o.min !== undefined && [...s].length < o.min) return err(`is too short (minimum is ${o.min} characters)`);
      if (o.pattern && !o.pattern.test(s)) return err("is invalid");
      return ok(s);
    },
  }),
  integer: (o: Common & { min?: number; max?: number } = {}): FieldSpec => ({
    ...o,
    read(v) {
      const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) return err("must be an integer");
      if (o.min !== undefined && n < o.min) return err(`must be greater than or equal to ${o.min}`);
      if (o.max !== undefined && n > o.max) return err(`must be less than or equal to ${o.max}`);
      return ok(n);
    },
  }),
  boolean: (o: Common = {}): FieldSpec => ({
    ...o,
    read(v) {
      const b = coerceBoolean(v);
      return b === null ? err("must be true or false") : ok(b);
    },
  }),
  enum: <T extends string>(values: readonly T[], o: Common = {}): FieldSpec => ({
    ...o,
    read: (v) => (typeof v === "string" && (values as readonly string[]).includes(v) ? ok(v) : err("is not included in the list")),
  }),
  /** ISO-8601 time → unix ms. */
  time: (o: Common = {}): FieldSpec => ({
    ...o,
    read(v) {
      const ms = parseIsoTime(v);
      return ms === null ? err("is not a valid ISO-8601 time") : ok(ms);
    },
  }),
  /** A list filter's ISO-8601 time → unix ms; unparseable is ignored with a warning (§1.3), not a 422. */
  timeFilter: (): FieldSpec => ({
    read(v) {
      const ms = parseIsoTime(v);
      return ms === null ? { ignored: IGNORED_TIME } : ok(ms);
    },
  }),
  /** Any JSON value, checked by a custom function returning an error message or the value. */
  custom: (check: (v: unknown) => Result, o: Common = {}): FieldSpec => ({ ...o, read: check }),
};

export const result = { ok, err };

export function coerceBoolean(v: unknown): boolean | null {
  if (v === true || v === 1 || v === "true" || v === "1") return true;
  if (v === false || v === 0 || v === "false" || v === "0") return false;
  return null;
}

export interface ReadOptions {
  /** Resource wrapper key (fields may be top-level, wrapped, or both; wrapped wins). */
  wrapper?: string;
  /** Top-level keys that are options, not fields (never warned about). */
  options?: readonly string[];
  /** Known keys accepted but not applicable here (reported as `parameter_ignored`). */
  ignored?: readonly string[];
  /** Fields that cannot change after create: ignored whatever their value (`parameter_ignored`). */
  immutable?: readonly string[];
  /** PATCH: required fields may be omitted. */
  partial?: boolean;
}

export interface ReadResult {
  /** Present fields only (omitted = unchanged); `null` means cleared. */
  values: Record<string, unknown>;
  warnings: Warning[];
}

const PAGINATION = new Set(["page", "per_page", "limit", "offset"]);

/**
 * `unrecognized_parameter` warnings for the keys of `input` a route does not define: neither in
 * `known` nor a channel selector or page parameter (§1.3).
 */
export function unrecognizedKeys(input: Input, known: readonly string[]): Warning[] {
  return Object.keys(input)
    .filter((k) => !known.includes(k) && !SELECTOR_KEYS.has(k) && !PAGINATION.has(k))
    .map((k) => ({ code: "unrecognized_parameter" as const, param: k, message: `${k} is not a parameter of this route` }));
}

/**
 * Reads `spec` fields from `input`.
 * @throws 422 with every field error keyed by its dot-path.
 */
export function readFields(spec: Record<string, FieldSpec>, input: Input, o: ReadOptions = {}): ReadResult {
  const errors: FieldErrors = {};
  const warnings: Warning[] = [];
  const values: Record<string, unknown> = {};
  const sources: [Input, string][] = [[input, ""]];
  const wrapped = o.wrapper ? input[o.wrapper] : undefined;
  if (wrapped && typeof wrapped === "object" && !Array.isArray(wrapped)) sources.push([wrapped as Input, `${o.wrapper}.`]);

  for (const [source, prefix] of sources) {
    for (const [key, raw] of Object.entries(source)) {
      const param = prefix + key;
      if (!prefix && (key === o.wrapper || SELECTOR_KEYS.has(key) || PAGINATION.has(key) || o.options?.includes(key))) continue;
      const ignoredBecause = o.ignored?.includes(key) ? "is not applicable" : o.immutable?.includes(key) ? "is immutable" : null;
      if (ignoredBecause) {
        warnings.push({ code: "parameter_ignored", param, message: `${param} ${ignoredBecause} and was ignored` });
        continue;
      }
      const field = Object.hasOwn(spec, key) ? spec[key] : undefined;
      if (!field) {
        warnings.push({ code: "unrecognized_parameter", param, message: `${param} is not a parameter of this route` });
        continue;
      }
      if (raw === null) {
        if (field.nullAs !== undefined) values[key] = field.nullAs;
        else if (field.nullable) values[key] = null;
        else (errors[param] ??= []).push("can't be blank");
        continue;
      }
      const r = field.read(raw);
      if ("error" in r) (errors[param] ??= []).push(r.error);
      else if ("ignored" in r) warnings.push({ code: "parameter_ignored", param, message: `${param} ${r.ignored}` });
      else values[key] = r.value;
    }
  }
  if (!o.partial) {
    for (const [key, field] of Object.entries(spec)) {
      if (field.required && !(key in values) && !(key in errors) && !(`${o.wrapper}.${key}` in errors)) errors[key] = ["can't be blank"];
    }
  }
  // A wrapped value wins over the same top-level key: drop the top-level key's error if wrapped is fine.
  if (o.wrapper) for (const key of Object.keys(values)) if (errors[key] && !(`${o.wrapper}.${key}` in errors) && key in (wrapped as object ?? {})) delete errors[key];
  if (Object.keys(errors).length > 0) throw validationError(errors);
  return { values, warnings };
}

/** Adds `warnings` to a 2xx object body when there are any (§1.3). */
export function withWarnings<T extends object>(body: T, warnings: readonly Warning[]): T {
  return warnings.length ? { ...body, warnings } : body;
}
