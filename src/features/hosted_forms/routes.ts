/**
 * The public hosted form of §10.1 under MAILROOM_PUBLIC_URL, no token: `GET /f/:identifier` (the
 * page, or its post-submission view with `?submitted=1`), `GET /f/:identifier/embed.js`, `POST`
 * (urlencoded, multipart or JSON, ≤ 16 KiB), `POST /f/:identifier/view` (the widget counting a
 * view) and the CORS preflights. Another page may post only from an `allowed_embedding_domains`
 * host (any when the list is empty); submissions and views are limited per form and IP per hour.
 */
import { Elysia } from "elysia";
import { RateLimiter } from "@/auth/rate-limiter";
import type { OptInForm } from "@/db/schema";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { rawResponse, route } from "@/http/contract";
import { textParam } from "@/http/params";
import { requestMeta } from "@/http/request";
import { recordView } from "@/features/opt_in_forms/analytics";
import { pickVariant, variantsOf } from "@/features/opt_in_forms/variants";
import { embedScript } from "./embed";
import { renderFormPage } from "./page";
import { enabledForm, originAllowed, submitForm } from "./service";

const MAX_BODY = 16 * 1024;
const HOUR = 3600_000;
/** embed.js counts a view per page shown; more than this from one IP in an hour is not a person. */
const VIEWS_PER_IP_PER_HOUR = 60;
const HTML = { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" };

const html = (body: string, status = 200, headers: Record<string, string> = {}) => new Response(body, { status, headers: { ...HTML, ...headers } });
const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8", ...headers } });
const notFoundPage = () => html('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found</title></head><body><h1>Not found</h1><p>This form is not available.</p></body></html>', 404);

/** The request's fields as flat strings; JSON `custom: {k: v}` becomes `custom[k]` (strings and numbers only, like the fields). */
async function readInput(request: Request): Promise<Record<string, string> | "too_large" | "unsupported" | "bad_json"> {
  const type = request.headers.get("content-type")?.split(";")[0]!.trim().toLowerCase() ?? "";
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > MAX_BODY) return "too_large";
  const out: Record<string, string> = {};
  if (type === "application/json") {
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      return "bad_json";
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) return "bad_json";
    const scalar = (v: unknown) => typeof v === "string" || typeof v === "number";
    for (const [k, v] of Object.entries(body)) {
      if (k === "custom" && v && typeof v === "object") {
        for (const [ck, cv] of Object.entries(v)) if (scalar(cv)) out[`custom[${ck}]`] = String(cv);
      } else if (scalar(v)) out[k] = String(v);
    }
    return out;
  }
  if (type !== "application/x-www-form-urlencoded" && type !== "multipart/form-data") return "unsupported";
  const form = await new Response(bytes, { headers: { "content-type": request.headers.get("content-type")! } }).formData().catch(() => null);
  if (!form) return "unsupported";
  for (const [k, v] of form.entries()) if (typeof v === "string") out[k] = v;
  return out;
}

export const hostedFormRoutes = (deps: Deps) => {
  const submissions = new RateLimiter<string>(HOUR);
  const views = new RateLimiter<string>(HOUR);
  const publicOrigin = new URL(deps.config.publicUrl).origin;
  /** CORS headers for an allowed cross-site Origin, {} for same-site or none, null when refused. */
  const cors = (form: OptInForm, request: Request): Record<string, string> | null => {
    const origin = request.headers.get("origin");
    // The hosted page posting to itself (by the public URL or the address it was reached at) is same-site.
    if (!origin || origin === publicOrigin || origin === new URL(request.url).origin) return {};
    let host: string;
    try {
      host = new URL(origin).hostname.toLowerCase();
    } catch {
      return null;
    }
    return originAllowed(form, host) ? { "access-control-allow-origin": origin, vary: "Origin" } : null;
  };
  const preflight = ({ params, request }: { params: { identifier: string }; request: Request }) => {
    const found = enabledForm(deps, params.identifier);
    const headers = found && cors(found.form, request);
    if (!headers) return new Response(null, { status: found ? 403 : 404 });
    return new Response(null, { status: 204, headers: { ...headers, "access-control-allow-methods": "POST", "access-control-allow-headers": "content-type, accept", "access-control-max-age": "600" } });
  };
  /** The form or one of its variants (§10: by weight, sticky per visitor by cookie), and the cookie to set. */
  const showVariant = (form: OptInForm, request: Request) => {
    const variants = form.parent_form_id === null ? variantsOf(deps, form.id) : [];
    if (!variants.length) return { shown: form, cookie: {} as Record<string, string> };
    const name = `mr_form_${form.id}`;
    const match = new RegExp(`(?:^|;\\s*)${name}=(\\d+)`).exec(request.headers.get("cookie") ?? "");
    const shown = pickVariant(form, variants, match ? Number(match[1]) : null, Math.random());
    return { shown, cookie: { "set-cookie": `${name}=${shown.id}; Path=/f/${form.identifier}; Max-Age=2592000; SameSite=Lax; HttpOnly` } };
  };
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/f/:identifier",
      ...route(
        { summary: "Hosted opt-in form (page)", public: true, params: { identifier: textParam("form identifier") }, response: { 200: rawResponse("text/html"), 404: rawResponse("text/html") } },
        ({ params, request }) => {
          const found = enabledForm(deps, params.identifier);
          if (!found) return notFoundPage();
          const submitted = new URL(request.url).searchParams.get("submitted") === "1";
          // A view is the form itself being shown (HEAD and the post-submission view are not).
          const { shown, cookie } = showVariant(found.form, request);
          if (!submitted && request.method === "GET") recordView(deps, shown.id, requestMeta(request).ip ?? "", request.headers.get("user-agent") ?? "", deps.clock.now());
          return html(renderFormPage(shown, { submitted, variantOf: found.form }), 200, cookie);
        },
      ),
    )
    .get(
      "/f/:identifier/embed.js",
      ...route(
        { summary: "Hosted opt-in form widget (script)", public: true, params: { identifier: textParam("form identifier") }, response: { 200: rawResponse("application/javascript"), 404: rawResponse("text/html") } },
        ({ params }) => {
          const found = enabledForm(deps, params.identifier);
          if (!found) return notFoundPage();
          const variants = found.form.parent_form_id === null ? variantsOf(deps, found.form.id) : [];
          const script = embedScript(found.form, variants, `${deps.config.publicUrl}/f/${found.form.identifier}`);
          return new Response(script, { headers: { "content-type": "application/javascript; charset=utf-8", "cache-control": "public, max-age=60" } });
        },
      ),
    )
    .options("/f/:identifier", preflight)
    .options("/f/:identifier/view", preflight)
    // Plain like the POST below: it answers with the CORS headers and reads no body.
    .post("/f/:identifier/view", ({ params, request }) => {
      const found = enabledForm(deps, params.identifier);
      if (!found) return json({ error: "Not Found", message: "This form is not available" }, 404);
      const headers = cors(found.form, request);
      if (!headers) return json({ error: "Forbidden", message: "Origin not allowed for this form" }, 403);
      const ip = requestMeta(request).ip ?? "";
      const now = deps.clock.now();
      views.pruneEvery(now);
      const limit = views.take(`${found.form.id}:${ip}`, VIEWS_PER_IP_PER_HOUR, now);
      if (!limit.allowed) return json({ error: "Too many requests" }, 429, { ...headers, "retry-after": String(limit.retryAfter) });
      const asked = new URL(request.url).searchParams.get("variant_id");
      const shown = asked === null ? found.form : [found.form, ...variantsOf(deps, found.form.id).filter((v) => v.enabled)].find((v) => String(v.id) === asked);
      if (!shown) return json({ error: "Variant not found", errors: { variant_id: ["is not this form or one of its enabled variants"] } }, 422, headers);
      recordView(deps, shown.id, ip, request.headers.get("user-agent") ?? "", now);
      return new Response(null, { status: 204, headers });
    })
    // A plain handler: forms post urlencoded or multipart, which the API's JSON body reader refuses.
    .post("/f/:identifier", async ({ params, request }) => {
      const found = enabledForm(deps, params.identifier);
      if (!found) return notFoundPage();
      const { form, channel } = found;
      const headers = cors(form, request);
      if (!headers) return json({ error: "Forbidden", message: "Origin not allowed for this form" }, 403);
      const ip = requestMeta(request).ip ?? "";
      const now = deps.clock.now();
      submissions.pruneEvery(now);
      const limit = submissions.take(`${form.id}:${ip}`, form.security_settings.submissions_per_ip_per_hour, now);
      if (!limit.allowed) return json({ error: "Too many requests" }, 429, { ...headers, "retry-after": String(limit.retryAfter) });
      const input = await readInput(request);
      if (input === "too_large") return json({ error: "Payload Too Large" }, 413, headers);
      if (input === "unsupported") return json({ error: "Unsupported Media Type", message: "Send urlencoded, multipart or JSON" }, 415, headers);
      if (input === "bad_json") return json({ error: "Invalid JSON body", message: "Send a JSON object in UTF-8" }, 400, headers);
      const wantsJson = /json/i.test(request.headers.get("accept") ?? "") || /json/i.test(request.headers.get("content-type") ?? "");
      // A variant's own settings and blocks apply to what was posted from it.
      const target = (input.variant_id && variantsOf(deps, form.id).find((v) => v.enabled && String(v.id) === input.variant_id)) || form;
      const result = submitForm(deps, target, channel, input);
      if ("errors" in result) {
        const [field, message] = Object.entries(result.errors)[0]!;
        const label = field === "email" ? "Email" : field.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
        if (wantsJson) return json({ error: `${label} ${message}`, errors: Object.fromEntries(Object.entries(result.errors).map(([k, v]) => [k, [v]])) }, 422, headers);
        return html(renderFormPage(target, { errors: result.errors, values: input, variantOf: form }), 422, headers);
      }
      if (wantsJson) return json({ ok: true, status: result.status }, 200, headers);
      return new Response(null, { status: 303, headers: { ...headers, location: `/f/${form.identifier}?submitted=1` } });
    });
};
