import { Elysia, t } from "elysia";
import type { Scope } from "@/auth/scope";
import type { OptInForm } from "@/db/schema";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { f, withWarnings } from "@/input/fields";
import { pagination } from "@/input/pagination";
import { idParam } from "@/http/params";
import { MessageSchema, PaginationSchema, Strict, Warnings } from "@/input/schemas";
import { validationError } from "@/lib/errors";
import { defaultRange, formAnalytics, formTotals, MAX_RANGE_DAYS, rangeDays, readDate } from "./analytics";
import { addVariant, variantCounts, variantsOf } from "./variants";
import { encodeOptInForm, OptInFormFields, OptInFormFilters, OptInFormSchema } from "./model";
import { createForm, deleteForm, duplicateForm, getForm, listForms, updateForm } from "./service";

const params = { id: idParam("Opt-in form") };
const body = { fields: OptInFormFields, wrapper: "opt_in_form" } as const;
const ListSchema = Strict({ opt_in_forms: t.Array(OptInFormSchema), pagination: PaginationSchema, warnings: t.Optional(Warnings) });

const date = f.custom(readDate, { schema: { type: "string", format: "date" } });
const AnalyticsQuery = { start_date: date, end_date: date };
const Count = t.Integer({ minimum: 0 });
const AnalyticsSchema = Strict({
  form_id: t.Integer(),
  start_date: t.String(),
  end_date: t.String(),
  totals: Strict({ views: Count, unique_views: Count, submissions: Count, conversion_rate: t.Number() }),
  daily: t.Array(Strict({ date: t.String(), views: Count, unique_views: Count, submissions: Count })),
  variants: t.Array(Strict({ id: t.Integer(), variant_name: t.String(), variant_weight: t.Integer(), views: Count, submissions: Count, conversion_rate: t.Number() })),
  warnings: t.Optional(Warnings),
});
const VariantFields = {
  name: f.string({ max: 255, min: 1, description: 'Default: "Variant N"' }),
  weight: f.integer({ min: 1, max: 100, description: "Share of the hosted page's views (default 50; the form itself counts 50)" }),
};
const DuplicateFields = { label: f.string({ max: 255, description: 'Default: "<label> (Copy)"' }) };

/** §10 /opt_in_forms: CRUD, variants, duplicate and analytics (the hosted form of §10.1 is hosted_forms/). */
export const optInFormRoutes = (deps: Deps) => {
  const encode = (form: OptInForm, totals = formTotals(deps, [form.id]).get(form.id), variants = variantCounts(deps, [form.id]).get(form.id)) =>
    encodeOptInForm(form, deps.auth.cache.channelById(form.channel_id)!, deps.config.publicUrl, totals, variants);
  const load = ({ scope, params }: { scope: Scope; params: { id: number } }) => getForm(deps, scope, params.id);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/opt_in_forms",
      ...route(
        {
          summary: "List opt-in forms",
          permission: "opt_in_forms_read",
          channel: "some",
          pagination: { style: "page" },
          query: { fields: OptInFormFilters },
          response: { 200: ListSchema },
        },
        ({ scope, query, page, warnings }) => {
          const { rows, total } = listForms(deps, scope, query, page);
          const ids = rows.map((r) => r.id);
          const [totals, variants] = [formTotals(deps, ids), variantCounts(deps, ids)];
          return withWarnings({ opt_in_forms: rows.map((r) => encode(r, totals.get(r.id), variants.get(r.id) ?? 0)), pagination: pagination(total, rows.length, page) }, warnings);
        },
      ),
    )
    .get("/opt_in_forms/:id", ...route({ summary: "Get an opt-in form", permission: "opt_in_forms_read", params, load, response: { 200: OptInFormSchema } }, ({ record }) => encode(record)))
    .post(
      "/opt_in_forms",
      ...route(
        { summary: "Create an opt-in form", permission: "opt_in_forms_write", channel: "one", body, response: { 201: OptInFormSchema } },
        ({ channel, values, warnings, set }) => {
          const row = createForm(deps, channel, values);
          set.status = 201;
          return withWarnings(encode(row), warnings);
        },
      ),
    )
    .patch(
      "/opt_in_forms/:id",
      ...route(
        { summary: "Update an opt-in form", permission: "opt_in_forms_write", params, load, body: { ...body, partial: true }, response: { 200: OptInFormSchema } },
        ({ record, values, warnings }) => withWarnings(encode(updateForm(deps, record, values)), warnings),
      ),
    )
    .get(
      "/opt_in_forms/:id/analytics",
      ...route(
        { summary: "Views, unique views and submissions of an opt-in form per day", permission: "opt_in_forms_read", params, load, query: { fields: AnalyticsQuery }, response: { 200: AnalyticsSchema } },
        ({ record, query, warnings }) => {
          const fallback = defaultRange(deps.clock.now());
          const end = query.end_date ?? (query.start_date !== undefined ? Math.max(query.start_date, fallback.end) : fallback.end);
          const start = query.start_date ?? end - (fallback.end - fallback.start);
          if (start > end) throw validationError({ start_date: ["must be on or before end_date"] });
          if (rangeDays(start, end) > MAX_RANGE_DAYS) throw validationError({ end_date: [`is more than ${MAX_RANGE_DAYS} days from start_date`] });
          // A variant's analytics are its own; a form's include its variants.
          const variants = record.parent_form_id === null ? variantsOf(deps, record.id) : [];
          return withWarnings(formAnalytics(deps, record, variants, start, end), warnings);
        },
      ),
    )
    .post(
      "/opt_in_forms/:id/variants",
      ...route(
        { summary: "Add a variant to an opt-in form", permission: "opt_in_forms_write", params, load, body: { fields: VariantFields, wrapper: "variant" }, response: { 201: OptInFormSchema } },
        ({ record, values, warnings, set }) => {
          set.status = 201;
          return withWarnings(encode(addVariant(deps, record, values.name, values.weight)), warnings);
        },
      ),
    )
    .post(
      "/opt_in_forms/:id/duplicate",
      ...route(
        { summary: "Copy an opt-in form", permission: "opt_in_forms_write", params, load, body: { fields: DuplicateFields, wrapper: "opt_in_form" }, response: { 201: OptInFormSchema } },
        ({ record, values, warnings, set }) => {
          set.status = 201;
          return withWarnings(encode(duplicateForm(deps, record, values.label)), warnings);
        },
      ),
    )
    .delete(
      "/opt_in_forms/:id",
      ...route({ summary: "Delete an opt-in form", permission: "opt_in_forms_write", params, load, response: { 200: MessageSchema } }, ({ record }) => {
        deleteForm(deps, record);
        return { message: "Opt-in form deleted successfully" };
      }),
    );
};
