/**
 * The API's own description: `GET /api/v1/openapi.json` (public: the document is the same for
 * every caller and the docs page needs it without a token) and `GET /api/docs`, Redoc's standalone
 * renderer served from the binary. The page loads nothing from elsewhere, and its CSP says so.
 */
import { Elysia, t } from "elysia";
// Embedded as a file of the executable (as text it would be kept twice: in the source and the bytecode).
import redocFile from "redoc/bundles/redoc.standalone.js" with { type: "file" };
import type { Deps } from "@/deps";
import { VERSION } from "@/version";
import { authPlugin } from "./auth";
import { route } from "./contract";
import { openApiDocument, type RegisteredRoute } from "./openapi";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
/** Redoc's sidebar footer shows a logo from its CDN (unconditionally): an empty image instead, hidden by Redoc's own onError. */
let renderer: Promise<string> | null = null;
const loadRenderer = () =>
  (renderer ??= Bun.file(redocFile)
    .text()
    .then((js) => js.replaceAll("https://cdn.redoc.ly/redoc/logo-mini.svg", "data:,")));
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mailroom API</title>
</head>
<body>
<redoc spec-url="/api/v1/openapi.json" hide-download-button="false"></redoc>
<script src="/api/docs/redoc.standalone.js"></script>
</body>
</html>
`;
/** Same-origin only; Redoc injects its styles and runs its search in a blob: worker. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

const SAFE = { "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };

/** The minimum the document promises about itself; its validity is checked by the test suite. */
const DocumentSchema = t.Object({ openapi: t.Literal("3.1.0"), info: t.Object({ title: t.String(), version: t.String() }), paths: t.Record(t.String(), t.Unknown()) });

/** `/openapi` under the /api/v1 prefix (the `.json` suffix is stripped by the HTTP edge). `routes` = the app's, read once. */
export function openApiRoutes(deps: Deps, routes: () => readonly RegisteredRoute[]) {
  let document: string | null = null;
  return new Elysia().use(authPlugin(deps)).get(
    "/openapi",
    ...route({ summary: "This OpenAPI 3.1 document", public: true, response: { 200: DocumentSchema } }, () => {
      document ??= JSON.stringify(openApiDocument(routes(), { version: VERSION, serverUrl: deps.config.publicUrl }));
      return new Response(document, { headers: JSON_HEADERS });
    }),
  );
}

/** The docs page and its renderer. */
export const apiDocsRoutes = () =>
  new Elysia()
    .get("/api/docs", () => new Response(DOCS_PAGE, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": DOCS_CSP, ...SAFE } }))
    .get(
      "/api/docs/redoc.standalone.js",
      async () => new Response(await loadRenderer(), { headers: { "content-type": "text/javascript; charset=utf-8", ...SAFE } }),
    );
