/**
 * Checks real responses against the OpenAPI document the app generates: the harness hands it every
 * response of the API test suite (`server.request`, `server.fetch`), so a body that drifts from its
 * documented schema, or a status a route does not document, fails the test that produced it.
 * `/admin/api/v1/*` (the dashboard mirror) is checked as the `/api/v1/*` route it runs.
 */
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { createApp } from "@/app";
import type { Deps } from "@/deps";
import { openApiDocument } from "@/http/openapi";
import { VERSION } from "@/version";

type Doc = ReturnType<typeof openApiDocument>;
type Json = Record<string, any>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Json;
}

let document: Doc | null = null;
let operations: Operation[] = [];
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
const compiled = new Map<object, ValidateFunction>();

/** The document of the app the tests run (the same routes for every test server: built once). */
export function apiDocument(deps: Deps): Doc {
  if (!document) {
    document = openApiDocument(createApp(deps).routes, { version: VERSION, serverUrl: "http://localhost" });
    operations = Object.entries(document.paths).flatMap(([template, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${template.replace(/\{[a-z_]+\}/g, "[^/]+")}$`),
        responses: (op as Json).responses,
      })),
    );
  }
  return document;
}

/** A schema compiled with the document's components in reach of its `#/components/...` refs. */
function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile({ ...schema, components: { schemas: document!.components.schemas } });
    compiled.set(schema, validate);
  }
  return validate;
}

const resolve = (response: Json): Json =>
  typeof response.$ref === "string" ? (document!.components.responses as Json)[response.$ref.split("/").pop()!] : response;
const mediaType = (value: string | null) => (value ?? "").split(";")[0].trim().toLowerCase();

/** The API path a request ran as, or null when it is not an /api/v1 route. */
function apiPath(url: string): string | null {
  const path = new URL(url, "http://localhost").pathname.replace(/^\/admin\/api\/v1\//, "/api/v1/");
  if (!path.startsWith("/api/v1/")) return null;
  return path.replace(/\.json$/, "").replace(/(.)\/$/, "$1");
}

/**
 * @throws when the response's status is not documented for its route, its media type differs
 * from the documented one, or its JSON body does not match the documented schema.
 */
export function checkResponse(deps: Deps, method: string, url: string, status: number, contentType: string | null, text: string): void {
  const path = apiPath(url);
  if (path === null) return;
  apiDocument(deps);
  const asMethod = method === "PUT" ? "PATCH" : method === "HEAD" ? "GET" : method;
  const op = operations.find((o) => o.method === asMethod && o.pattern.test(path));
  const where = `${method} ${path} → ${status}`;
  let documented: Json | undefined;
  if (op) documented = op.responses[String(status)] && resolve(op.responses[String(status)]);
  // Unknown routes and methods (404/405) and refusals at the HTTP edge answer the shared error body.
  else if (status >= 400) documented = resolve({ $ref: `#/components/responses/${status === 405 ? 405 : 404}` });
  if (!documented) throw new Error(`${where}: ${op ? `status not documented for ${op.method} ${op.template}` : "route not in the OpenAPI document"}`);
  if (method === "HEAD" || !documented.content) return;
  const type = mediaType(contentType);
  const entry = Object.entries(documented.content as Json).find(([t]) => mediaType(t) === type);
  if (!entry) throw new Error(`${where}: content-type ${contentType} is not documented (${Object.keys(documented.content).join(", ")})`);
  if (type !== "application/json") return;
  const validate = validatorFor(entry[1].schema);
  if (!validate(JSON.parse(text))) {
    throw new Error(`${where}: body does not match the documented schema: ${ajv.errorsText(validate.errors, { dataVar: "body" })}\n${text.slice(0, 500)}`);
  }
}
