/**
 * Request normalisation of API.md §1.2: body parsing (JSON by default, 415 for other types, 413 over
 * the limit, DELETE bodies too), SDK-style query strings (`k[]=a`, `k[sub]=v`), query + body merge
 * (body wins). Wrapper keys and coercion are handled by `readFields` (fields.ts).
 */
import { AppError } from "./errors";

export type Input = Record<string, unknown>;

/** A `text/csv` body, accepted only where a route opts in (bulk subscriber import). */
export class CsvBody {
  constructor(readonly text: string) {}
}

/**
 * A body the parser refused (400/413/415). The refusal waits until the request is authenticated,
 * charged and permitted (API.md §2.1: the body is checked at the validation step), so an anonymous
 * caller learns nothing from it and a malformed request still costs its bucket.
 */
export class RejectedBody {
  constructor(readonly error: AppError) {}
}

/** The parser's refusal of `body`, thrown now (after authentication). */
export function throwIfRejected(body: unknown): void {
  if (body instanceof RejectedBody) throw body.error;
}

/** Routes whose body limit is 10 MiB (API.md §20) and which may receive CSV. */
const BULK_PATH = /\/(subscribers|suppressions|global_suppressions)\/bulk\/?$/;
const CSV_PATH = /\/subscribers\/bulk\/?$/;
export const BULK_BODY_LIMIT = 10 * 1024 * 1024;

/** Fatal: invalid UTF-8 is refused instead of being stored as U+FFFD. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

const tooLarge = (limit: number) => new AppError("payload_too_large", "Payload Too Large", { message: `Request body exceeds ${limit} bytes` });

/**
 * Parses a request body into a plain object (or CsvBody); a refused body becomes a RejectedBody
 * (400 invalid JSON / non-object, 413 over the limit, 415 other content types).
 */
export async function parseBody(request: Request, maxBytes: number): Promise<Input | CsvBody | RejectedBody> {
  try {
    return await readBody(request, maxBytes);
  } catch (err) {
    if (err instanceof AppError) return new RejectedBody(err);
    throw err;
  }
}

async function readBody(request: Request, maxBytes: number): Promise<Input | CsvBody> {
  const path = new URL(request.url).pathname;
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

/** Query params merged with the body (body wins). @throws 400 on an unparseable query. */
function mergeInput(url: string, body: unknown): Input {
  const query = parseQuery(url);
  const data = body && typeof body === "object" && !(body instanceof CsvBody) && !(body instanceof RejectedBody) ? (body as Input) : {};
  return Object.keys(query).length === 0 ? data : { ...query, ...data };
}

/**
 * `mergeInput`, with the refusal of an unparseable query or a refused body held back (`refused`)
 * for the caller to throw once the request is authenticated (§2.1). A refused part reads as empty.
 */
export function readInput(url: string, body: unknown): { input: Input; refused: AppError | null } {
  const refused = body instanceof RejectedBody ? body.error : null;
  try {
    return { input: mergeInput(url, body), refused };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { input: mergeInput("", body), refused: err };
  }
}

/** Channel selector keys: resolved by auth, never warned about, never fields. */
export const SELECTOR_KEYS = new Set(["broadcast_channel_id", "channel", "target", "format"]);
