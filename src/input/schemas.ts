/**
 * JSON schemas shared by every route's documentation (OpenAPI) and the response validator of the
 * tests: the error body of docs/api-reference.md §1.4, warnings (§1.3) and the list envelopes (§1.5). Resource
 * schemas sit beside their encoders (features/<resource>/model.ts); encoders are typed from them.
 */
import { t, type Static, type TSchema } from "elysia";

/** An integer (Elysia's `t.Integer` also accepts digit strings, which no response contains). */
export const Int = (options: { description?: string } = {}) => t.Unsafe<number>({ type: "integer", ...options });

/** A fixed-length array (`prefixItems`, JSON Schema 2020-12 as in OpenAPI 3.1). */
export const Pair = <A extends TSchema, B extends TSchema>(a: A, b: B, description?: string) =>
  t.Unsafe<[Static<A>, Static<B>]>({ type: "array", prefixItems: [a, b], minItems: 2, maxItems: 2, ...(description ? { description } : {}) });

/** An ISO-8601 UTC time or null (§1.3). */
export const Time = t.Union([t.String({ format: "date-time" }), t.Null()]);
export const Nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);
/** A strict object: a property the schema does not know is drift. */
export const Strict = <P extends Parameters<typeof t.Object>[0]>(properties: P, description?: string) =>
  t.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

export const WarningSchema = Strict({
  code: t.Union(["unrecognized_parameter", "parameter_ignored", "parameter_overridden", "value_adjusted"].map((c) => t.Literal(c))),
  param: t.String(),
  message: t.String(),
});
export const Warnings = t.Array(WarningSchema, { description: "Present only when non-empty (docs/api-reference.md §1.3)" });

export const ErrorSchema = Strict(
  {
    error: t.String(),
    message: t.Optional(t.String()),
    errors: t.Optional(t.Record(t.String(), t.Array(t.String()), { description: "Field errors by request param dot-path (422)" })),
    required_permission: t.Optional(t.String()),
    required_permissions: t.Optional(t.Array(t.String())),
    request_id: t.Optional(t.String()),
  },
  "Every error has a string `error` (docs/api-reference.md §1.4)",
);

const OptionalWarnings = t.Optional(Warnings);

/** `{data,total,limit,offset}` (offset style). */
export const OffsetList = <T extends TSchema>(item: T) =>
  Strict({ data: t.Array(item), total: Int(), limit: Int(), offset: Int(), warnings: OptionalWarnings });

export const PaginationSchema = Strict({
  total: Int(),
  count: Int(),
  from: Nullable(Int()),
  to: Nullable(Int()),
  current: Int(),
  total_pages: Int(),
  per_page: Int(),
});

const arrayOf = <T extends TSchema>(item: T) => t.Array(item);

/** `{<key>: [...], pagination}` (page style). */
export const PageList = <K extends string, T extends TSchema>(key: K, item: T) =>
  Strict({ [key]: arrayOf(item), pagination: PaginationSchema, warnings: OptionalWarnings } as { [k in K]: ReturnType<typeof arrayOf<T>> } & {
    pagination: typeof PaginationSchema;
    warnings: typeof OptionalWarnings;
  });

/** `{message}` of deletes and other acknowledgements. */
export const MessageSchema = Strict({ message: t.String() });
