/**
 * A route contract as an OpenAPI 3.1 operation: the `permission` macro publishes it into the
 * route's `detail`, and the document (openapi.ts) only assembles these by path. Error responses
 * and headers are `$ref`s into the components of openapi.ts.
 */
import type { Permission } from "@/auth/permissions";
import type { AnyContract, RawResponse } from "./contract";
import type { JsonSchema, Specs } from "@/input/fields";
import type { ParamSpec } from "./params";

/** The permissions a contract requires (empty for any-token and public routes). */
export const requiredPermissions = (c: AnyContract): Permission[] =>
  c.permission === undefined ? [] : typeof c.permission === "string" ? [c.permission] : [...c.permission];

export const accessOf = (c: AnyContract): "permission" | "any_token" | "public" => (c.public ? "public" : c.anyToken ? "any_token" : "permission");

const ref = (kind: "responses" | "headers" | "parameters", name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** Errors any route can answer (docs/api-reference.md §1.4); token routes add 401/403/429, sends 402, idempotent ones 409. */
const COMMON_ERRORS = ["400", "404", "413", "414", "415", "422", "431", "500", "503"];
const TOKEN_ERRORS = ["401", "403", "429"];
const RATE_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit", "RateLimit-Policy"];
const QUOTA_HEADERS = ["X-Quota-Used", "X-Quota-Cap", "X-Quota-Remaining", "X-Quota-Warning"];

const isRaw = (r: unknown): r is RawResponse => typeof r === "object" && r !== null && "contentType" in r;

/** A 2xx object body may carry `warnings` (§1.3): added to every JSON object schema that lacks it. */
function withWarningsProperty(schema: JsonSchema): JsonSchema {
  const properties = schema.properties as Record<string, unknown> | undefined;
  if (schema.type !== "object" || !properties || "warnings" in properties) return schema;
  return { ...schema, properties: { ...properties, warnings: { $ref: "#/components/schemas/Warnings" } } };
}

/** Elysia's `t.Integer()` also admits digit strings (for query coercion); a response holds integers only. */
const isCoercingInteger = (v: Record<string, unknown>) => {
  const [text, int] = (v.anyOf as Record<string, unknown>[] | undefined) ?? [];
  return (v.anyOf as unknown[]).length === 2 && text?.type === "string" && text.format === "integer" && int?.type === "integer";
};

/** A JSON schema as plain data for the document: without TypeBox's symbol keys, integers as integers. */
export const plainSchema = (schema: unknown): JsonSchema =>
  JSON.parse(JSON.stringify(schema), (_key, v) => {
    if (!v || typeof v !== "object" || !Array.isArray(v.anyOf) || !isCoercingInteger(v)) return v;
    const { anyOf: _, ...rest } = v;
    return { ...rest, type: "integer" };
  });

function objectSchema(fields: Specs, required: string[]): JsonSchema {
  const properties = Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.schema]));
  return { type: "object", properties, ...(required.length ? { required } : {}) };
}

/** Fields top-level or under the wrapper (wrapped wins, §1.2), options top-level only. */
function bodySchema(body: NonNullable<AnyContract["body"]>): JsonSchema {
  const fields = body.fields as Specs;
  const required = body.partial ? [] : Object.keys(fields).filter((k) => fields[k].required);
  const options = (body.options ?? {}) as Specs;
  const top = objectSchema({ ...fields, ...options }, Object.keys(options).filter((k) => options[k].required));
  if (!body.wrapper) return required.length ? { ...top, required: [...((top.required as string[]) ?? []), ...required] } : top;
  const wrapped = objectSchema(fields, []);
  const wrappers = body.wrapperAlias ? [body.wrapper, body.wrapperAlias] : [body.wrapper];
  for (const w of wrappers) (top.properties as Record<string, unknown>)[w] = { ...wrapped, description: `The same fields wrapped; a wrapped field wins over a top-level one` };
  if (!required.length) return top;
  return {
    ...top,
    anyOf: [{ required }, ...wrappers.map((w) => ({ required: [w], properties: { [w]: { required } } }))],
  };
}

function queryParameters(fields: Specs): JsonSchema[] {
  return Object.entries(fields).map(([name, f]) => {
    const deep = (f.schema as { type?: string }).type === "object";
    return { name, in: "query", required: f.required, schema: f.schema, ...(deep ? { style: "deepObject", explode: true } : {}) };
  });
}

function pageParameters(p: NonNullable<AnyContract["pagination"]>): JsonSchema[] {
  const max = p.max ?? 250;
  if (p.style === "offset") {
    return [
      { name: "limit", in: "query", schema: { type: "integer", minimum: 1, default: p.limit ?? 100, description: `Clamped to ${max} with a value_adjusted warning` } },
      { name: "offset", in: "query", schema: { type: "integer", minimum: 0, default: 0 } },
    ];
  }
  return [
    { name: "page", in: "query", schema: { type: "integer", minimum: 1, default: 1 } },
    { name: "per_page", in: "query", schema: { type: "integer", minimum: 1, default: p.perPage ?? 250, description: `Clamped to ${max} with a value_adjusted warning` } },
  ];
}

/** The operation fields of a contract, plus Mailroom's `x-*` access keys (read by the route matrix and /prime). */
export function contractDetail(c: AnyContract): Record<string, unknown> {
  const required = requiredPermissions(c);
  const access = accessOf(c);
  const token = access !== "public";
  const parameters: JsonSchema[] = [
    ...Object.entries((c.params ?? {}) as Record<string, ParamSpec<unknown>>).map(([name, p]) => ({ name, in: "path", required: true, schema: p.schema })),
    ...(c.pagination ? pageParameters(c.pagination) : []),
    ...(c.query ? queryParameters(c.query.fields) : []),
    ...(token ? [ref("parameters", "channel"), ref("parameters", "broadcast_channel_id")] : []),
    ...(c.replay ? [ref("parameters", "Idempotency-Key")] : []),
  ];
  const headers = Object.fromEntries([...(token ? RATE_HEADERS : []), ...(c.bucket === "send" ? QUOTA_HEADERS : [])].map((h) => [h, ref("headers", h)]));
  const responses: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(c.response as Record<string, unknown>)) {
    const content = isRaw(schema)
      ? { [schema.contentType]: { schema: schema.schema } }
      : { "application/json": { schema: withWarningsProperty(plainSchema(schema)) } };
    responses[status] = { description: Number(status) === 201 ? "Created" : "OK", headers, content };
  }
  const errors = [...COMMON_ERRORS, ...(token ? TOKEN_ERRORS : []), ...(c.bucket === "send" ? ["402"] : []), ...(c.replay ? ["409"] : [])];
  for (const status of errors.sort()) responses[status] = ref("responses", status);
  const bodyContent = c.body ? { "application/json": { schema: bodySchema(c.body) }, ...(c.body.csv ? { "text/csv": { schema: { type: "string" } } } : {}) } : null;
  return {
    summary: c.summary,
    "x-access": access,
    "x-required-permission": required[0] ?? null,
    "x-required-permissions": required,
    "x-rate-bucket": token ? (c.bucket ?? "general") : null,
    "x-scope-all": !!c.scopeAll,
    security: token ? [{ bearer: [] }] : [],
    ...(parameters.length ? { parameters } : {}),
    ...(bodyContent ? { requestBody: { required: !c.body!.partial && Object.values(c.body!.fields as Specs).some((f) => f.required), content: bodyContent } } : {}),
    responses,
  };
}
