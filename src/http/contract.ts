/**
 * Route contracts: each route declares its access rule, path params, query, body and responses in
 * one object beside its handler. `route(contract, handler)` returns Elysia's handler and options
 * (`.post(path, ...route({...}, handler))`): the `permission` macro (auth.ts) authenticates and
 * publishes the contract into the route's `detail` (OpenAPI), then the handler here parses in the
 * order of docs/api-reference.md §2.1 — params (404), channel (422), the loaded record (404), query and body
 * (422) — and hands the route typed values. The fields are read from the merged query and body
 * (§1.2), so a query declared on a GET reads a body too and a body declared on a POST reads the query.
 */
import type { TSchema } from "elysia";
import type { Permission } from "@/auth/permissions";
import type { Principal } from "@/auth/principal";
import { requireSomeChannel, type Scope } from "@/auth/scope";
import type { BucketName } from "@/auth/authenticator";
import type { Channel } from "@/db/schema";
import type { CsvBody, Input } from "@/input/values";
import { readFields, type FieldValues, type ReadOptions, type Specs, type Warning } from "@/input/fields";
import { offsetParams, pageParams, type OffsetPage, type PageParams } from "@/input/pagination";
import type { ParamSpec } from "./params";

/** A stored response replayed instead of running the handler (Idempotency-Key, §1.9). */
export interface Replay {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Exactly one of: a permission (or several), any valid token, or no token at all. */
export type Access =
  | { permission: Permission | readonly Permission[]; anyToken?: never; public?: never }
  | { anyToken: true; permission?: never; public?: never }
  | { public: true; permission?: never; anyToken?: never };

export interface AccessOptions {
  /** Send routes are charged to the `send` bucket (§1.7). */
  bucket?: BucketName;
  /** Routes that also need a token of scope `all`. */
  scopeAll?: boolean;
  /** An object-valued `channel` is the resource wrapper here (`/channels`), not a malformed selector. */
  channelWrapper?: boolean;
  /**
   * Looks up a replayable response before the bucket is charged (§2.1 check order); `body` = the
   * parsed body. Asked only for a principal the permission check will let through.
   */
  replay?: (request: Request, principal: Principal, body: Input | CsvBody) => Replay | null;
}

/** A non-JSON response body (documented by content type). */
export interface RawResponse {
  contentType: string;
  schema: Record<string, unknown>;
}
export const rawResponse = (contentType: string, schema: Record<string, unknown> = { type: "string" }): RawResponse => ({ contentType, schema });

export type Pagination = { style: "offset"; limit?: number; max?: number } | { style: "page"; perPage?: number; max?: number };

/** Fields read from the request (readFields options beside them). */
export interface FieldsContract<B extends Specs, O extends Specs, Partial extends boolean> extends Omit<ReadOptions<O>, "ignored"> {
  fields: B;
  partial?: Partial;
  /** Known keys accepted but not applicable here (`parameter_ignored`), possibly depending on the caller. */
  ignored?: readonly string[] | ((principal: Principal) => readonly string[]);
  /** Also accepts `text/csv` (the bulk import). */
  csv?: boolean;
}

type ParamValues<P> = { [K in keyof P]: P[K] extends ParamSpec<infer T> ? T : never };

export interface ContractBase<P, Q extends Specs, B extends Specs, O extends Specs, Partial extends boolean, Ch, R> extends AccessOptions {
  /** One line for the OpenAPI document. */
  summary: string;
  params?: P;
  /** `one`: the request needs exactly one target channel (§1.6); `some`: at least one. */
  channel?: Ch;
  /** Finds the record the route works on (404) before its body is judged (422), like Rails. */
  load?: (c: { scope: Scope; principal: Principal; params: ParamValues<P> }) => R;
  /** Filters and other query fields (an empty value is no value); required ones are enforced. */
  query?: FieldsContract<Q, {}, false>;
  pagination?: Pagination;
  body?: FieldsContract<B, O, Partial>;
  /** The success status(es) with their body schema (resource schemas sit beside their encoder in model.ts). */
  response: { [status: number]: TSchema | RawResponse };
}

export type Contract<P = {}, Q extends Specs = {}, B extends Specs = {}, O extends Specs = {}, Partial extends boolean = false, Ch = undefined, R = undefined> =
  ContractBase<P, Q, B, O, Partial, Ch, R> & Access;
export type AnyContract = Contract<any, any, any, any, any, any, any>;

export interface ResponseSet {
  status?: number | string;
  headers: Record<string, string | number>;
}

export interface RouteContext<A, P, Q extends Specs, B extends Specs, O extends Specs, Partial extends boolean, Ch, R> {
  principal: A extends { public: true } ? null : Principal;
  scope: A extends { public: true } ? null : Scope;
  /** The merged query and body (§1.2), for what no field describes (channel selectors). */
  input: Input;
  /** The parsed body: a CSV import's text arrives as CsvBody. */
  body: Input | CsvBody;
  request: Request;
  set: ResponseSet;
  params: ParamValues<P>;
  channel: Ch extends "one" ? Channel : undefined;
  record: R;
  query: FieldValues<Q>;
  values: FieldValues<B, Partial>;
  options: FieldValues<O>;
  /** The page asked for; its `warnings` are all of the request's (the list envelopes carry them). */
  page: OffsetPage & PageParams;
  /** Page, query and body warnings, in that order. */
  warnings: Warning[];
}

/** What the `permission` macro resolves (auth.ts). */
interface Resolved {
  principal: Principal | null;
  scope: Scope | null;
  input: Input;
  body: Input | CsvBody;
  replay: Replay | null;
  request: Request;
  set: ResponseSet;
  params: Record<string, string>;
}

const noPage = { limit: 0, offset: 0, page: 0, perPage: 0, warnings: [] as Warning[] };

/** readFields over a declared query or body; `ignored` may depend on the caller. */
function readDeclared(declared: FieldsContract<Specs, Specs, boolean>, input: Input, principal: Principal | null) {
  const ignored = typeof declared.ignored === "function" ? declared.ignored(principal!) : declared.ignored;
  return readFields(declared.fields, input, { ...declared, ignored });
}

/**
 * The handler and options of a route: `.get(path, ...route(contract, handler))`.
 * A replayed idempotent response is answered before anything is parsed (§1.9).
 */
export function route<
  const A extends Access,
  const P = {},
  const Q extends Specs = {},
  const B extends Specs = {},
  const O extends Specs = {},
  const Partial extends boolean = false,
  const Ch extends "one" | "some" | undefined = undefined,
  R = undefined,
>(
  contract: A & ContractBase<P, Q, B, O, Partial, Ch, R>,
  handler: (c: RouteContext<A, P, Q, B, O, Partial, Ch, R>) => unknown,
  // `any`: Elysia's context, of which `run` reads what the macro resolved.
): [(c: any) => unknown, { permission: AnyContract }] {
  const c = contract as unknown as AnyContract;
  const run = ({ principal, scope, input, body, replay, request, set, params }: Resolved) => {
    if (replay) {
      set.status = replay.status;
      Object.assign(set.headers, replay.headers ?? {});
      return replay.body;
    }
    const parsedParams: Record<string, unknown> = {};
    for (const [key, param] of Object.entries((c.params ?? {}) as Record<string, ParamSpec<unknown>>)) parsedParams[key] = param.parse(params[key]);
    let channel: Channel | undefined;
    if (c.channel === "one") channel = scope!.one();
    else if (c.channel === "some") requireSomeChannel(scope!);
    const record = c.load ? c.load({ scope: scope!, principal: principal!, params: parsedParams }) : undefined;
    const page = !c.pagination ? noPage : c.pagination.style === "offset" ? { ...noPage, ...offsetParams(input, c.pagination) } : { ...noPage, ...pageParams(input, c.pagination) };
    const warnings = [...page.warnings];
    let query = {};
    // A list without filters still reads its query: every key it does not define is warned about.
    if (c.query || c.pagination) {
      const fields: Specs = c.query?.fields ?? {};
      const given = Object.fromEntries(Object.entries(input).filter(([k, v]) => !(v === "" && k in fields)));
      const read = readDeclared({ fields, ...c.query }, given, principal);
      query = read.values;
      warnings.push(...read.warnings);
    }
    let values = {};
    let options = {};
    if (c.body) {
      const read = readDeclared(c.body, input, principal);
      ({ values, options } = read);
      warnings.push(...read.warnings);
    }
    const context = { principal, scope, input, body, request, set, params: parsedParams, channel, record, query, values, options, page: { ...page, warnings }, warnings };
    return handler(context as unknown as RouteContext<A, P, Q, B, O, Partial, Ch, R>);
  };
  return [run, { permission: c }];
}
