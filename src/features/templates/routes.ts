import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { readFields, withWarnings } from "@/http/fields";
import { offsetEnvelope, offsetParams } from "@/http/pagination";
import { pathId } from "@/http/params";
import type { Template } from "@/db/schema";
import { encodeTemplate, TemplateFields } from "./model";
import { createTemplate, deleteTemplate, getTemplate, listTemplates, updateTemplate } from "./service";

/** §8 /templates. */
export const templateRoutes = (deps: Deps) => {
  const encode = (t: Template) => encodeTemplate(t, deps.auth.cache.channelById(t.channel_id)!);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/templates",
      ({ scope, input }) => {
        const page = offsetParams(input, { filters: [] });
        const { rows, total } = listTemplates(deps, scope, page.limit, page.offset);
        return offsetEnvelope(rows.map(encode), total, page);
      },
      { permission: "templates_read" },
    )
    .get("/templates/:id", ({ scope, params }) => encode(getTemplate(deps, scope, pathId(params.id, "Template"))), {
      permission: "templates_read",
    })
    .post(
      "/templates",
      ({ scope, input, set }) => {
        const channel = scope.one();
        const { values, warnings } = readFields(TemplateFields, input, { wrapper: "template" });
        const row = createTemplate(deps, channel, values);
        set.status = 201;
        return withWarnings(encode(row), warnings);
      },
      { permission: "templates_write" },
    )
    .patch(
      "/templates/:id",
      ({ scope, input, params }) => {
        const template = getTemplate(deps, scope, pathId(params.id, "Template"));
        const { values, warnings } = readFields(TemplateFields, input, { wrapper: "template", partial: true });
        return withWarnings(encode(updateTemplate(deps, template, values)), warnings);
      },
      { permission: "templates_write" },
    )
    .delete(
      "/templates/:id",
      ({ scope, params }) => {
        deleteTemplate(deps, getTemplate(deps, scope, pathId(params.id, "Template")));
        return { message: "Template deleted successfully" };
      },
      { permission: "templates_write" },
    );
};
