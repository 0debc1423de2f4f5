/**
 * The list envelopes of docs/api-reference.md §1.5. Oversize page sizes are clamped with a `value_adjusted`
 * warning; past the end gives an empty page with correct totals.
 */
import type { Input } from "@/input/values";
import { validationError } from "@/lib/errors";
import { unrecognizedKeys, type Warning } from "./fields";

export interface OffsetPage {
  limit: number;
  offset: number;
  warnings: Warning[];
}

function readCount(input: Input, key: string, fallback: number, min: number, max: number, warnings: Warning[]): number {
  const raw = input[key];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw validationError({ [key]: ["must be an integer"] });
  if (n > max) {
    warnings.push({ code: "value_adjusted", param: key, message: `${key} was clamped to ${max}` });
    return max;
  }
  if (n < min) throw validationError({ [key]: [`must be greater than or equal to ${min}`] });
  return n;
}

/**
 * `limit` (≤ max, default) and `offset` for offset-style lists. With `filters` (the list's other
 * parameters), every other key of `input` gets an `unrecognized_parameter` warning.
 */
export function offsetParams(input: Input, o: { limit?: number; max?: number; filters?: readonly string[] } = {}): OffsetPage {
  const defaults = { limit: o.limit ?? 100, max: o.max ?? 250 };
  const warnings: Warning[] = o.filters ? unrecognizedKeys(input, o.filters) : [];
  const limit = readCount(input, "limit", defaults.limit, 1, defaults.max, warnings);
  const offset = readCount(input, "offset", 0, 0, Number.MAX_SAFE_INTEGER, warnings);
  return { limit, offset, warnings };
}

export function offsetEnvelope<T>(data: T[], total: number, page: OffsetPage) {
  const body = { data, total, limit: page.limit, offset: page.offset };
  return page.warnings.length ? { ...body, warnings: page.warnings } : body;
}

export interface PageParams {
  page: number;
  perPage: number;
  limit: number;
  offset: number;
  warnings: Warning[];
}

/** `page` (1-based) and `per_page` (≤ max, default) for page-style lists; `filters` as for offsetParams. */
export function pageParams(input: Input, o: { perPage?: number; max?: number; filters?: readonly string[] } = {}): PageParams {
  const defaults = { perPage: o.perPage ?? 250, max: o.max ?? 250 };
  const warnings: Warning[] = o.filters ? unrecognizedKeys(input, o.filters) : [];
  const page = readCount(input, "page", 1, 1, Number.MAX_SAFE_INTEGER, warnings);
  const perPage = readCount(input, "per_page", defaults.perPage, 1, defaults.max, warnings);
  return { page, perPage, limit: perPage, offset: (page - 1) * perPage, warnings };
}

/** `{total,count,from,to,current,total_pages,per_page}` */
export function pagination(total: number, count: number, p: PageParams) {
  return {
    total,
    count,
    from: count ? p.offset + 1 : null,
    to: count ? p.offset + count : null,
    current: p.page,
    total_pages: Math.ceil(total / p.perPage),
    per_page: p.perPage,
  };
}
