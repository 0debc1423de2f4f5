/**
 * Declarative field reading for request bodies and queries: coercion (docs/api-reference.md §1.2: booleans from
 * "true"/"1", integers from digit strings), Rails-style 422 messages keyed by dot-path, and
 * `warnings` for parameters the route does not define (§1.3). Each builder carries its output type
 * (handlers get typed values) and the JSON schema of the input it accepts (the OpenAPI document).
 */
import { parseIsoTime } from "@/lib/time";
import { SELECTOR_KEYS, type Input } from "@/input/values";
import { validationError, type FieldErrors } from "@/lib/errors";

export type WarningCode = "unrecognized_parameter" | "parameter_ignored" | "parameter_overridden" | "value_adjusted";
export type Warning = { code: WarningCode; param: string; message: string };

/** A JSON schema fragment (OpenAPI 3.1 = JSON Schema 2020-12). */
export type JsonSchema = Record<string, unknown>;

/** A read value, an error (422), or a value ignored with a `parameter_ignored` warning. */
export type Result<T> = { value: T } | { error: string } | { ignored: string };

/** Where a value is read: readers of nested values report errors and warnings on deeper dot-paths. */
export interface ReadContext {
  /** The dot-path of the value as sent (`tags`, `subscriber.tags`). */
  param: string;
  errors: FieldErrors;
  warnings: Warning[];
}

export interface FieldSpec<T = unknown, Required extends boolean = boolean> {
  read(value: unknown, at: ReadContext): Result<T>;
  required: Required;
  nullable?: boolean;
  /** What `null` sets the field to, for fields whose "cleared" state is not null (e.g. a default). */
  nullAs?: T;
  /** The input this field accepts, for the OpenAPI document. */
  schema: JsonSchema;
}

export type Specs = Record<string, FieldSpec<any, boolean>>;
type OutputOf<S> = S extends FieldSpec<infer T, boolean> ? T : never;
type RequiredKeys<S extends Specs> = { [K in keyof S]: S[K] extends FieldSpec<any, true> ? K : never }[keyof S];

/** The typed values of a read: present fields only (omitted = unchanged); required ones always present unless partial. */
export type FieldValues<S extends Specs, Partial extends boolean = false> = Partial extends true
  ? { [K in keyof S]?: OutputOf<S[K]> }
  : { [K in RequiredKeys<S>]: OutputOf<S[K]> } & { [K in Exclude<keyof S, RequiredKeys<S>>]?: OutputOf<S[K]> };

/** Why an unparseable time filter was ignored (after the parameter name). */
export const IGNORED_TIME = "is not a valid ISO-8601 time and was ignored";

const ok = <T>(value: T): Result<T> => ({ value });
const err = (error: string): Result<never> => ({ error });
export const result = { ok, err };

interface Common {
  required?: boolean;
  nullable?: boolean;
  description?: string;
}
type Req<O> = O extends { required: true } ? true : false;
type Out<T, O> = O extends { nullable: true } ? T | null : T;

/** Builds a spec: the schema gains `null` when nullable and the description when given. */
function spec<T, O extends Common>(o: O, schema: JsonSchema, read: FieldSpec<T>["read"], nullAs?: T): FieldSpec<Out<T, O>, Req<O>> {
  const documented = { ...schema, ...(o.description ? { description: o.description } : {}) };
  return {
    read,
    required: (o.required ?? false) as Req<O>,
    nullable: o.nullable,
    ...(nullAs !== undefined ? { nullAs } : {}),
    schema: o.nullable || nullAs !== undefined ? { anyOf: [documented, { type: "null" }] } : documented,
  } as FieldSpec<Out<T, O>, Req<O>>;
}

const length = (o: { max?: number; min?: number }) => ({
  ...(o.max !== undefined ? { maxLength: o.max } : {}),
  ...(o.min !== undefined ? { minLength: o.min } : {}),
});

export const f = {
  string: <const O extends Common & { max?: number; min?: number; pattern?: RegExp; trim?: boolean }>(o: O = {} as O) =>
    spec<string, O>(o, { type: "string", ...length(o), ...(o.pattern ? { pattern: o.pattern.source } : {}) }, (v) => {
      if (typeof v === "number" || typeof v === "boolean") v = String(v);
      if (typeof v !== "string") return err("must be a string");
      const s = o.trim === false ? v : v.trim();
      if (o.required && s === "") return err("can't be blank");
      if (o.max !== undefined && [...s].length > o.max) return err(`is too long (maximum is ${o.max} characters)`);
      if (o.min !== undefined && [...s].length < o.min) return err(`is too short (minimum is ${o.min} characters)`);
      if (o.pattern && !o.pattern.test(s)) return err("is invalid");
      return ok(s);
    }),
  integer: <const O extends Common & { min?: number; max?: number }>(o: O = {} as O) =>
    spec<number, O>(o, { type: "integer", ...(o.min !== undefined ? { minimum: o.min } : {}), ...(o.max !== undefined ? { maximum: o.max } : {}) }, (v) => {
      const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) return err("must be an integer");
      if (o.min !== undefined && n < o.min) return err(`must be greater than or equal to ${o.min}`);
      if (o.max !== undefined && n > o.max) return err(`must be less than or equal to ${o.max}`);
      return ok(n);
    }),
  boolean: <const O extends Common>(o: O = {} as O) =>
    spec<boolean, O>(o, { type: "boolean" }, (v) => {
      const b = coerceBoolean(v);
      return b === null ? err("must be true or false") : ok(b);
    }),
  enum: <const T extends string, const O extends Common & { message?: string }>(values: readonly T[], o: O = {} as O) =>
    spec<T, O>(o, { type: "string", enum: [...values] }, (v) =>
      typeof v === "string" && (values as readonly string[]).includes(v) ? ok(v as T) : err(o.message ?? "is not included in the list"),
    ),
  /** ISO-8601 time → unix ms. */
  time: <const O extends Common>(o: O = {} as O) =>
    spec<number, O>(o, { type: "string", format: "date-time" }, (v) => {
      const ms = parseIsoTime(v);
      return ms === null ? err("is not a valid ISO-8601 time") : ok(ms);
    }),
  /** A list filter's ISO-8601 time → unix ms; unparseable is ignored with a warning (§1.3), not a 422. */
  timeFilter: () =>
    spec<number, {}>({}, { type: "string", format: "date-time" }, (v) => {
      const ms = parseIsoTime(v);
      return ms === null ? { ignored: IGNORED_TIME } : ok(ms);
    }),
  /** Any JSON value, checked by `check`; `schema` documents what it accepts. `nullAs` replaces a sent `null`. */
  custom: <T, const O extends Common & { schema: JsonSchema; nullAs?: T }>(check: (v: unknown, at: ReadContext) => Result<T>, o: O) =>
    spec<T, O>(o, o.schema, check, o.nullAs),
};

/** Ids of records of one channel (the service checks they exist there), at most `max`, de-duplicated in order; `null` = none. */
export const idListField = (max: number) =>
  f.custom(
    (v, at: ReadContext) => {
      if (!Array.isArray(v)) return err("must be an array of ids");
      if (v.length > max) return err(`has too many ids (maximum is ${max})`);
      const ids: number[] = [];
      v.forEach((raw, i) => {
        const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
        if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) (at.errors[`${at.param}.${i}`] ??= []).push("must be an id");
        else if (!ids.includes(n)) ids.push(n);
      });
      return ok(ids);
    },
    { nullable: true, nullAs: [] as number[], schema: { type: "array", items: { type: "integer" }, maxItems: max } },
  );

export function coerceBoolean(v: unknown): boolean | null {
  if (v === true || v === 1 || v === "true" || v === "1") return true;
  if (v === false || v === 0 || v === "false" || v === "0") return false;
  return null;
}

export interface ReadOptions<O extends Specs = {}> {
  /** Resource wrapper key (fields may be top-level, wrapped, or both; wrapped wins with a `parameter_overridden` warning). */
  wrapper?: string;
  /** A second name of the wrapper (steps: `sequence_step` besides `step`), read when `wrapper` is absent. */
  wrapperAlias?: string;
  /** Top-level parameters that are not fields (never wrapped), read into `options`. */
  options?: O;
  /** Known keys accepted but not applicable here (reported as `parameter_ignored`). */
  ignored?: readonly string[];
  /** Fields that cannot change after create: ignored whatever their value (`parameter_ignored`). */
  immutable?: readonly string[];
  /** PATCH: required fields may be omitted. */
  partial?: boolean;
}

export interface ReadResult<S extends Specs = Specs, O extends Specs = {}, P extends boolean = boolean> {
  /** Present fields only (omitted = unchanged); `null` means cleared. */
  values: FieldValues<S, P>;
  options: FieldValues<O>;
  warnings: Warning[];
}

const PAGINATION = new Set(["page", "per_page", "limit", "offset"]);
const isObject = (v: unknown): v is Input => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * `unrecognized_parameter` warnings for the keys of `input` a route does not define: neither in
 * `known` nor a channel selector or page parameter (§1.3).
 */
export function unrecognizedKeys(input: Input, known: readonly string[]): Warning[] {
  return Object.keys(input)
    .filter((k) => !known.includes(k) && !SELECTOR_KEYS.has(k) && !PAGINATION.has(k))
    .map((k) => ({ code: "unrecognized_parameter" as const, param: k, message: `${k} is not a parameter of this route` }));
}

/** Reads one present value into `into[key]`; problems go to `errors` under `param` (or deeper). */
function readValue(field: FieldSpec, key: string, raw: unknown, param: string, into: Input, errors: FieldErrors, warnings: Warning[]) {
  if (raw === null) {
    if (field.nullAs !== undefined) into[key] = field.nullAs;
    else if (field.nullable) into[key] = null;
    else (errors[param] ??= []).push("can't be blank");
    return;
  }
  const nested = Object.keys(errors).length;
  const r = field.read(raw, { param, errors, warnings });
  if ("error" in r) (errors[param] ??= []).push(r.error);
  else if ("ignored" in r) warnings.push({ code: "parameter_ignored", param, message: `${param} ${r.ignored}` });
  else if (Object.keys(errors).length === nested) into[key] = r.value;
}

/**
 * Reads `spec` fields (and top-level `options`) from `input`.
 * @throws 422 with every field error keyed by its dot-path.
 */
export function readFields<S extends Specs, O extends Specs = {}, P extends boolean = false>(
  spec: S,
  input: Input,
  o: ReadOptions<O> & { partial?: P } = {},
): ReadResult<S, O, P> {
  const errors: FieldErrors = {};
  const warnings: Warning[] = [];
  const values: Input = {};
  const options: Input = {};
  const wrapper = o.wrapper && !isObject(input[o.wrapper]) && o.wrapperAlias && isObject(input[o.wrapperAlias]) ? o.wrapperAlias : o.wrapper;
  const wrapped = wrapper && isObject(input[wrapper]) ? (input[wrapper] as Input) : null;
  const sources: [Input, string][] = wrapped ? [[input, ""], [wrapped, `${wrapper}.`]] : [[input, ""]];

  for (const [source, prefix] of sources) {
    for (const [key, raw] of Object.entries(source)) {
      const param = prefix + key;
      if (!prefix) {
        if (key === wrapper || SELECTOR_KEYS.has(key) || PAGINATION.has(key)) continue;
        if (o.options && Object.hasOwn(o.options, key)) {
          readValue(o.options[key], key, raw, param, options, errors, warnings);
          continue;
        }
      }
      const ignoredBecause = o.ignored?.includes(key) ? "is not applicable" : o.immutable?.includes(key) ? "is immutable" : null;
      if (ignoredBecause) {
        warnings.push({ code: "parameter_ignored", param, message: `${param} ${ignoredBecause} and was ignored` });
        continue;
      }
      const field = Object.hasOwn(spec, key) ? spec[key] : undefined;
      if (!field) {
        warnings.push({ code: "unrecognized_parameter", param, message: `${param} is not a parameter of this route` });
      } else if (!prefix && wrapped && Object.hasOwn(wrapped, key)) {
        const winner = `${wrapper}.${key}`;
        warnings.push({ code: "parameter_overridden", param, message: `${param} was also given as ${winner}; ${winner} was used` });
      } else readValue(field, key, raw, param, values, errors, warnings);
    }
  }
  const missing = (key: string) => !(key in errors) && !(`${wrapper}.${key}` in errors);
  if (!o.partial) for (const [key, field] of Object.entries(spec)) if (field.required && !(key in values) && missing(key)) errors[key] = ["can't be blank"];
  for (const [key, field] of Object.entries(o.options ?? {})) if (field.required && !(key in options) && missing(key)) errors[key] = ["can't be blank"];
  if (Object.keys(errors).length > 0) throw validationError(errors);
  return { values, options, warnings } as unknown as ReadResult<S, O, P>;
}

/** Adds `warnings` to a 2xx object body when there are any (§1.3). */
export function withWarnings<T extends object>(body: T, warnings: readonly Warning[]): T {
  return warnings.length ? { ...body, warnings } : body;
}
