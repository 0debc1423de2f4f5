/**
 * The admin page's three static files, embedded into the executable as text at build time (nothing
 * is read from disk at run time), served with a strict Content-Security-Policy: no inline script or
 * style, no third-party resource, not frameable.
 */
import { Elysia } from "elysia";
import indexHtml from "../../public/admin/index.html" with { type: "text" };
import appJs from "../../public/admin/app.js" with { type: "text" };
import appCss from "../../public/admin/app.css" with { type: "text" };

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const headersFor = (contentType: string) => ({
  "content-type": contentType,
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
});

const file = (body: string, contentType: string) => () => new Response(body, { headers: headersFor(contentType) });

// Bun types `.html` imports as an HTML bundle; with `type: "text"` it is the file's text.
const page = file(indexHtml as unknown as string, "text/html; charset=utf-8");

export const adminPage = new Elysia({ name: "admin-page" })
  .get("/", ({ redirect }) => redirect("/admin", 302))
  .get("/admin", page)
  .get("/admin/", page)
  .get("/admin/assets/app.js", file(appJs, "text/javascript; charset=utf-8"))
  .get("/admin/assets/app.css", file(appCss, "text/css; charset=utf-8"));
