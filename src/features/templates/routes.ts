import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { withWarnings } from "@/input/fields";
import { offsetEnvelope } from "@/input/pagination";
import { idParam } from "@/http/params";
import { MessageSchema, OffsetList } from "@/input/schemas";
import type { Template } from "@/db/schema";
import { encodeTemplate, TemplateFields, TemplateSchema } from "./model";
import { createTemplate, deleteTemplate, getTemplate, listTemplates, updateTemplate } from "./service";

const params = { id: idParam("Template") };
const body = { fields: TemplateFields, wrapper: "template" } as const;

/** §8 /templates. */
export const templateRoutes = (deps: Deps) => {
  const encode = (t: Template) => encodeTemplate(t, deps.auth.cache.channelById(t.channel_id)!);
  const load = ({ scope, params }: { scope: Parameters<typeof getTemplate>[1]; params: { id: number } }) => getTemplate(deps, scope, params.id);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/templates",
      ...route(
        { summary: "List templates", permission: "templates_read", pagination: { style: "offset" }, response: { 200: OffsetList(TemplateSchema) } },
        ({ scope, page }) => {
          const { rows, total } = listTemplates(deps, scope, page.limit, page.offset);
          return offsetEnvelope(rows.map(encode), total, page);
        },
      ),
    )
    .get(
      "/templates/:id",
      ...route({ summary: "Get a template", permission: "templates_read", params, load, response: { 200: TemplateSchema } }, ({ record }) => encode(record)),
    )
    .post(
      "/templates",
      ...route(
        { summary: "Create a template", permission: "templates_write", channel: "one", body, response: { 201: TemplateSchema } },
        ({ channel, values, warnings, set }) => {
          const row = createTemplate(deps, channel, values);
          set.status = 201;
          return withWarnings(encode(row), warnings);
        },
      ),
    )
    .patch(
      "/templates/:id",
      ...route(
        { summary: "Update a template", permission: "templates_write", params, load, body: { ...body, partial: true }, response: { 200: TemplateSchema } },
        ({ record, values, warnings }) => withWarnings(encode(updateTemplate(deps, record, values)), warnings),
      ),
    )
    .delete(
      "/templates/:id",
      ...route({ summary: "Delete a template", permission: "templates_write", params, load, response: { 200: MessageSchema } }, ({ record }) => {
        deleteTemplate(deps, record);
        return { message: "Template deleted successfully" };
      }),
    );
};
