import { Elysia, t } from "elysia";
import type { Scope } from "@/auth/scope";
import type { OptInForm } from "@/db/schema";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { f, withWarnings } from "@/http/fields";
import { pagination } from "@/http/pagination";
import { idParam } from "@/http/params";
import { MessageSchema, PaginationSchema, Strict, Warnings } from "@/http/schemas";
import { encodeOptInForm, OptInFormFields, OptInFormFilters, OptInFormSchema } from "./model";
import { createForm, deleteForm, duplicateForm, getForm, listForms, updateForm } from "./service";

const params = { id: idParam("Opt-in form") };
const body = { fields: OptInFormFields, wrapper: "opt_in_form" } as const;
const ListSchema = Strict({ opt_in_forms: t.Array(OptInFormSchema), pagination: PaginationSchema, warnings: t.Optional(Warnings) });

const DuplicateFields = { label: f.string({ max: 255, description: 'Default: "<label> (Copy)"' }) };

/** §10 /opt_in_forms: CRUD and duplicate. Variants, analytics and the hosted form (§10.1) are not in this version. */
export const optInFormRoutes = (deps: Deps) => {
  const encode = (form: OptInForm) => encodeOptInForm(form, deps.auth.cache.channelById(form.channel_id)!, deps.config.publicUrl);
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
          return withWarnings({ opt_in_forms: rows.map(encode), pagination: pagination(total, rows.length, page) }, warnings);
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
