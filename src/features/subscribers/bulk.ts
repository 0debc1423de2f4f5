/**
 * POST /subscribers/bulk (docs/api-reference.md §3.1): up to 10,000 rows per call as JSON or CSV, validated first,
 * then written in one transaction. Invalid rows are skipped and reported by row number (JSON: 1-based
 * array position; CSV: the file line, header = line 1); valid rows are created or merged like the
 * single-record upsert, with source `import` (and the same events: `subscriber.created`, plus
 * `subscriber.subscribed` for a row created active). Quota is not charged.
 */
import { parse } from "csv-parse/sync";
import type { Channel, Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { appendEvents, type NewEvent } from "@/features/events/service";
import { AppError, validationError, type FieldErrors } from "@/lib/errors";
import { f, readFields, result, type FieldValues, type Warning } from "@/input/fields";
import type { Input } from "@/input/values";
import { checkCustomDataSize, isObject, MAX_TAGS, mergeTags, SubscriberFields, tagsField } from "./fields";
import { findByEmail, statements, subscriberEvent, syncTags } from "./store";

export const MAX_BULK_ROWS = 10_000;
const MAX_REPORTED_ERRORS = 100;
const EVENT_CHUNK = 500;

const RowFields = {
  email: SubscriberFields.email,
  first_name: SubscriberFields.first_name,
  last_name: SubscriberFields.last_name,
  tags: SubscriberFields.tags,
  custom_data: SubscriberFields.custom_data,
  is_active: SubscriberFields.is_active,
  subscribed_at: SubscriberFields.subscribed_at,
};

interface RawRow {
  row: number;
  /** Where the row's fields live in the request, for warnings (`subscribers.3`). */
  param: string;
  data: unknown;
}

export interface RowError {
  row: number;
  email: string | null;
  errors: FieldErrors;
}

/** The JSON body (a CSV body brings its rows instead of `subscribers`). */
export const BulkFields = {
  subscribers: f.custom((v) => (Array.isArray(v) ? result.ok(v as unknown[]) : result.err("must be an array")), {
    schema: { type: "array", maxItems: MAX_BULK_ROWS, items: { type: "object", description: "email, first_name, last_name, tags, custom_data, is_active, subscribed_at" } },
  }),
  mode: f.enum(["upsert", "create_only"], { message: "must be upsert or create_only", description: "upsert (default) or create_only" }),
  tags: tagsField(),
};

export interface BulkRequest {
  rows: RawRow[];
  mode: "upsert" | "create_only";
  tags: string[];
}

const CSV_KNOWN = new Set(["email", "first_name", "last_name", "tags"]);

/**
 * Turns a CSV body into rows: `email` (required column), `first_name`, `last_name`, `tags`
 * (`;`-separated); every other column becomes a custom_data key (empty cells are left out).
 * @throws 400 unparseable CSV, 422 without an `email` column.
 */
export function csvRows(text: string): RawRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: (h: string[]) => h.map((c) => c.trim()), skip_empty_lines: true, trim: true, bom: true, relax_column_count: true, info: true });
  } catch (e) {
    throw new AppError("bad_request", "Invalid CSV body", { message: (e as Error).message });
  }
  const header = text.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0] ?? "";
  if (!header.split(",").some((c) => c.trim().replace(/^"|"$/g, "").toLowerCase() === "email")) {
    throw validationError({ email: ["column is missing from the CSV header"] });
  }
  return records.map(({ record, info }) => {
    const data: Input = {};
    const custom: Record<string, string> = {};
    for (const [column, value] of Object.entries(record)) {
      const known = column.toLowerCase();
      if (CSV_KNOWN.has(known)) {
        if (value === "") continue;
        data[known] = known === "tags" ? value.split(";").map((t) => t.trim()).filter((t) => t !== "") : value;
      } else if (value !== "") custom[column] = value;
    }
    if (Object.keys(custom).length > 0) data.custom_data = custom;
    return { row: info.lines, param: `row ${info.lines}`, data };
  });
}

/** The rows (the CSV's, or the JSON body's), mode and tags. @throws 422 without rows or over the row limit. */
export function readBulkRequest(values: FieldValues<typeof BulkFields, true>, csv: RawRow[] | null): BulkRequest {
  const rows = csv ?? values.subscribers?.map((data, i) => ({ row: i + 1, param: `subscribers.${i}`, data }));
  if (!rows) throw validationError({ subscribers: ["can't be blank"] });
  if (rows.length > MAX_BULK_ROWS) throw validationError({ subscribers: [`is too long (maximum is ${MAX_BULK_ROWS} rows per request)`] });
  return { rows, mode: values.mode ?? "upsert", tags: values.tags ?? [] };
}

export interface BulkResult {
  created: number;
  updated: number;
  skipped: number;
  errors: RowError[];
  warnings: Warning[];
}

interface ValidRow {
  row: number;
  values: FieldValues<typeof RowFields>;
}

/** Validates every row, then writes the valid ones in one transaction. */
export function importSubscribers(deps: Deps, channel: Channel, req: BulkRequest): BulkResult {
  const rowErrors: RowError[] = [];
  const warnings: Warning[] = [];
  const warned = new Set<string>();
  const valid: ValidRow[] = [];
  for (const r of req.rows) {
    if (!isObject(r.data)) {
      rowErrors.push({ row: r.row, email: null, errors: { base: ["must be an object"] } });
      continue;
    }
    try {
      const read = readFields(RowFields, r.data);
      for (const w of read.warnings) {
        // One warning per unknown column, not one per row.
        if (warned.has(w.param)) continue;
        warned.add(w.param);
        warnings.push({ ...w, param: `${r.param}.${w.param}` });
      }
      valid.push({ row: r.row, values: read.values });
    } catch (e) {
      if (!(e instanceof AppError && e.details.errors)) throw e;
      const email = r.data.email;
      rowErrors.push({ row: r.row, email: typeof email === "string" ? email : null, errors: e.details.errors as FieldErrors });
    }
  }

  let created = 0;
  let updated = 0;
  deps.db.transaction((tx) => {
    const s = statements(deps.db);
    const now = deps.clock.now();
    const pending: NewEvent[] = [];
    // Other features' hooks (sequence enrollment) run after the subscriber events they follow are appended.
    const hooks: (() => void)[] = [];
    const flush = (force: boolean) => {
      if (pending.length < EVENT_CHUNK && !(force && pending.length + hooks.length > 0)) return;
      appendEvents(tx as never, deps.clock, pending.splice(0));
      for (const run of hooks.splice(0)) run();
    };
    for (const { row, values: v } of valid) {
      const existing = findByEmail(deps.db, channel.id, v.email);
      const tags = mergeTags(v.tags ?? [], req.tags);
      if (!existing) {
        if (tags.length > MAX_TAGS) {
          rowErrors.push({ row, email: v.email, errors: { tags: [`has too many tags (maximum is ${MAX_TAGS})`] } });
          continue;
        }
        const inserted = s.insert.get({
          channel_id: channel.id,
          email: v.email,
          first_name: v.first_name ?? null,
          last_name: v.last_name ?? null,
          ip_address: null,
          is_active: v.is_active ?? true,
          source: "import",
          subscribed_at: v.subscribed_at ?? now,
          confirmed_at: null,
          confirmation_sent_at: null,
          tags,
          custom_data: v.custom_data ?? {},
          now,
        })!;
        syncTags(deps.db, inserted.id, channel.id, [], tags);
        hooks.push(() => deps.subscriberHooks.changed(deps, tx as never, channel, null, inserted));
        pending.push(subscriberEvent("subscriber.created", channel, inserted));
        if (inserted.is_active) pending.push(subscriberEvent("subscriber.subscribed", channel, inserted));
        created++;
      } else if (req.mode === "create_only") {
        rowErrors.push({ row, email: v.email, errors: { email: ["has already been taken"] } });
        continue;
      } else {
        const problem = mergeProblem(existing, tags, v.custom_data);
        if (problem) {
          rowErrors.push({ row, email: v.email, errors: problem });
          continue;
        }
        const next = {
          first_name: v.first_name !== undefined ? v.first_name : existing.first_name,
          last_name: v.last_name !== undefined ? v.last_name : existing.last_name,
          tags: mergeTags(existing.tags, tags),
          custom_data: v.custom_data ? { ...existing.custom_data, ...v.custom_data } : existing.custom_data,
        };
        if (
          next.first_name !== existing.first_name ||
          next.last_name !== existing.last_name ||
          next.tags.length !== existing.tags.length ||
          JSON.stringify(next.custom_data) !== JSON.stringify(existing.custom_data)
        ) {
          const row2 = s.updateProfile.get({ id: existing.id, ...next, now })!;
          syncTags(deps.db, existing.id, channel.id, existing.tags, next.tags);
          hooks.push(() => deps.subscriberHooks.changed(deps, tx as never, channel, existing, row2));
          pending.push(subscriberEvent("subscriber.updated", channel, row2));
        }
        updated++;
      }
      flush(false);
    }
    flush(true);
  });
  rowErrors.sort((a, b) => a.row - b.row);
  return { created, updated, skipped: rowErrors.length, errors: rowErrors.slice(0, MAX_REPORTED_ERRORS), warnings };
}

/** Why merging into an existing subscriber would break the limits, or null. */
function mergeProblem(existing: Subscriber, tags: string[], custom: Record<string, unknown> | null | undefined): FieldErrors | null {
  const errors: FieldErrors = {};
  if (mergeTags(existing.tags, tags).length > MAX_TAGS) errors.tags = [`has too many tags (maximum is ${MAX_TAGS})`];
  if (custom) checkCustomDataSize({ ...existing.custom_data, ...custom }, "custom_data", errors);
  return Object.keys(errors).length ? errors : null;
}

