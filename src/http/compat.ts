/**
 * Request normalisation of docs/api-reference.md §1.2: body parsing (JSON by default, 415 for other types, 413 over
 * the limit, DELETE bodies too), SDK-style query strings (`k[]=a`, `k[sub]=v`), query + body merge
 * (body wins). Wrapper keys and coercion are handled by `readFields` (input/fields.ts).
 */
import { AppError } from "@/lib/errors";
import { CsvBody, type Input } from "@/input/values";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "@/lib/json-depth";


/**
 * The request body, read and parsed only when a handler asks for it: after authentication and the
 * permission check (docs/api-reference.md §2.1: the body is checked at the validation step). A caller who will be
 * refused costs no parsing and learns nothing from the body; a malformed one still costs its bucket.
 */
export class PendingBody {
  private parsed: Promise<Input | CsvBody> | null = null;

  constructor(
    private readonly request: Request,
    private readonly maxBytes: number,
  ) {}

  /** @throws AppError 400 invalid JSON (or nested too deep) / non-object, 413 over the limit, 415 other types. */
  read(): Promise<Input | CsvBody> {
    return (this.parsed ??= readBody(this.request, this.maxBytes));
  }
}

/** The parsed form of a route's `body`: `{}` for a request without one (GET). @throws as PendingBody.read */
export const readPendingBody = (body: unknown): Promise<Input | CsvBody> | Input => (body instanceof PendingBody ? body.read() : {});

/** Routes whose body limit is 10 MiB (docs/api-reference.md §20) and which may receive CSV. */
const BULK_PATH = /\/(subscribers|suppressions|global_suppressions)\/bulk\/?$/;
const CSV_PATH = /\/subscribers\/bulk\/?$/;
export const BULK_BODY_LIMIT = 10 * 1024 * 1024;

/** Fatal: invalid UTF-8 is refused instead of being stored as U+FFFD. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

const tooLarge = (limit: number) => new AppError("payload_too_large", "Payload Too Large", { message: `Request body exceeds ${limit} bytes` });

/** Reads and parses a body (JSON, or CSV where the route opts in). @throws AppError 400/413/415 */
async function readBody(request: Request, maxBytes: number): Promise<Input | CsvBody> {
  const path = request.url.split("?", 1)[0];
  const limit = BULK_PATH.test(path) ? BULK_BODY_LIMIT : maxBytes;
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) throw tooLarge(limit);
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > limit) throw tooLarge(limit);
  if (bytes.byteLength === 0) return {};
  const csv = type === "text/csv" && CSV_PATH.test(path);
  if (!csv && type !== "" && type !== "application/json" && !type.endsWith("+json")) {
    throw new AppError("unsupported_media_type", "Unsupported Media Type", { message: "Send JSON with Content-Type: application/json" });
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new AppError("bad_request", csv ? "Invalid CSV body" : "Invalid JSON body", { message: "The body is not valid UTF-8" });
  }
  if (csv) return new CsvBody(text);
  if (text.trim() === "") return {};
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new AppError("bad_request", "Invalid JSON body", { message: `JSON nesting exceeds ${MAX_JSON_DEPTH} levels` });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AppError("bad_request", "Invalid JSON body");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new AppError("bad_request", "Invalid JSON body");
  return parsed as Input;
}

/** Above what an 8 KiB query (414 beyond) can hold ("a&" per parameter): none is ever dropped. */
const MAX_QUERY_PARAMETERS = 8 * 1024;

const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

// qs (with its dependencies ~3 MiB resident) is loaded by the first request that has a query string, not at boot.
let qs: typeof import("qs") | null = null;

/** SDK-style query parameters of a URL. @throws 400 on unparseable syntax. */
export function parseQuery(url: string): Input {
  const at = url.indexOf("?");
  if (at < 0 || at === url.length - 1) return {};
  const query = url.slice(at + 1);
  if (BAD_PERCENT.test(query)) throw new AppError("bad_request", "Invalid query string");
  try {
    decodeURIComponent(query.replace(/\+/g, " "));
  } catch {
    throw new AppError("bad_request", "Invalid query string");
  }
  qs ??= require("qs") as typeof import("qs");
  return qs.parse(query, { depth: 5, arrayLimit: 10_000, parameterLimit: MAX_QUERY_PARAMETERS, allowPrototypes: false }) as Input;
}

/**
 * The query of `url`, with the refusal of unparseable syntax held back (`refused`) for the caller to
 * throw once the request is authenticated and permitted (§2.1). A refused query reads as empty.
 */
export function readQuery(url: string): { query: Input; refused: AppError | null } {
  try {
    return { query: parseQuery(url), refused: null };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { query: {}, refused: err };
  }
}

/** Query params merged with the parsed body (body wins; a CSV body adds no params). */
export function mergeInput(query: Input, body: Input | CsvBody): Input {
  const data = body instanceof CsvBody ? {} : body;
  return Object.keys(query).length === 0 ? data : { ...query, ...data };
}

