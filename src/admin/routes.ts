/**
 * The dashboard's HTTP surface (docs/api-reference.md §19): the static admin page, login/logout/me, admin users,
 * the sandboxed preview of captured HTML, and `/admin/api/v1/*` — every `/api/v1` route run with
 * the session's admin principal (the `permission` macro skips token auth and buckets for it).
 * State-changing requests must come from the origin of MAILROOM_PUBLIC_URL (CSRF defence on top
 * of the SameSite=Strict cookie).
 */
import { Elysia } from "elysia";
import { resolveScope } from "@/auth/scope";
import { auditContextOf } from "@/features/audit_log/service";
import { getCapturedRaw, readCapturedContent } from "@/features/captured_messages/service";
import type { Deps } from "@/deps";
import { parseQuery, readPendingBody } from "@/http/compat";
import type { Input } from "@/input/values";
import { forbidden, unauthorized } from "@/lib/errors";
import { f, readFields } from "@/input/fields";
import { offsetEnvelope, offsetParams } from "@/input/pagination";
import { pathId } from "@/http/params";
import { requestMeta, setRequestMeta } from "@/http/request";
import { escapeHtml } from "@/lib/html";
import { AdminSessions, adminPrincipal } from "./session";
import { adminPage } from "./static";
import { LOGIN_PATTERN, MIN_ADMIN_PASSWORD } from "@/lib/credentials";
import { AdminUsers, encodeAdminUser } from "./users";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const MIRROR_PREFIX = "/admin/api/v1/";

/** Captured HTML runs in an opaque origin with no scripts, no network, no forms. */
const PREVIEW_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "sandbox; default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:; frame-ancestors 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const credentialsSpec = (passwordMin: number | undefined, required: boolean) => ({
  email: f.string({ required, max: 254, pattern: LOGIN_PATTERN }),
  password: f.string({ required, trim: false, min: passwordMin, max: 1024 }),
});
const LOGIN_FIELDS = credentialsSpec(undefined, true);
const NEW_USER_FIELDS = credentialsSpec(MIN_ADMIN_PASSWORD, true);
const USER_CHANGE_FIELDS = credentialsSpec(MIN_ADMIN_PASSWORD, false);

/** `handle` is the whole application's; mirrored requests are handed back to it as `/api/v1/*`. */
export function adminRoutes(deps: Deps, handle: (request: Request) => Promise<Response>) {
  const sessions = new AdminSessions(deps);
  const users = new AdminUsers(deps, sessions);
  const publicOrigin = new URL(deps.config.publicUrl).origin;

  const checkOrigin = (request: Request) => {
    if (!SAFE_METHODS.has(request.method) && request.headers.get("origin") !== publicOrigin) throw forbidden("Origin check failed");
  };

  // Hooks are local to an Elysia instance: login needs no session, everything else does.
  const loginRoutes = new Elysia()
    .onBeforeHandle(({ request }) => checkOrigin(request))
    .post("/admin/api/login", async ({ request, body, set }) => {
      const { values } = readFields(LOGIN_FIELDS, (await readPendingBody(body)) as Input, { wrapper: "user" });
      const { email, password } = values as { email: string; password: string };
      const { user, cookies } = await users.login(email, password, requestMeta(request), request.headers.get("cookie"));
      set.headers["set-cookie"] = cookies;
      return { user: { id: user.id, email: user.email } };
    });

  const sessionRoutes = new Elysia()
    .onBeforeHandle(({ request }) => checkOrigin(request))
    // Bodies are read by the routes that take one, once the session is verified (compat.ts PendingBody).
    .resolve(async ({ request }) => {
      const admin = await sessions.verify(request.headers.get("cookie"));
      if (!admin) throw unauthorized("Invalid or missing session");
      const meta = requestMeta(request);
      meta.principal = adminPrincipal(admin, meta);
      return { admin, principal: meta.principal };
    })
    .post("/admin/api/logout", ({ admin, set }) => {
      sessions.end(admin.sessionId);
      set.headers["set-cookie"] = sessions.clearedCookie();
      return { message: "Logged out" };
    })
    .get("/admin/api/me", ({ admin }) => ({ user: { id: admin.id, email: admin.email } }))
    .get("/admin/api/users", ({ request }) => {
      const page = offsetParams(parseQuery(request.url));
      const { rows, total } = users.list(page.limit, page.offset);
      return offsetEnvelope(rows.map(encodeAdminUser), total, page);
    })
    .get("/admin/api/users/:id", ({ params }) => encodeAdminUser(users.get(pathId(params.id, "Admin user"))))
    .post("/admin/api/users", async ({ body, principal, set }) => {
      const { values } = readFields(NEW_USER_FIELDS, (await readPendingBody(body)) as Input, { wrapper: "user" });
      const user = await users.create(values as { email: string; password: string }, auditContextOf(principal));
      set.status = 201;
      return encodeAdminUser(user);
    })
    .patch("/admin/api/users/:id", async ({ body, params, principal, admin }) => {
      const { values } = readFields(USER_CHANGE_FIELDS, (await readPendingBody(body)) as Input, { wrapper: "user", partial: true });
      const user = await users.update(pathId(params.id, "Admin user"), values, auditContextOf(principal), admin.sessionId);
      return encodeAdminUser(user);
    })
    .delete("/admin/api/users/:id", ({ params, principal }) => {
      users.delete(pathId(params.id, "Admin user"), auditContextOf(principal));
      return { message: "Admin user deleted successfully" };
    })
    .get("/admin/api/preview/captured_messages/:id", async ({ params, principal }) => {
      const scope = resolveScope(principal, {}, deps.auth.cache);
      const { html, text } = await readCapturedContent(getCapturedRaw(deps, scope, pathId(params.id, "Captured message")));
      const body = html ?? `<pre>${escapeHtml(text ?? "")}</pre>`;
      return new Response(body, { headers: PREVIEW_HEADERS });
    })
    .all(`${MIRROR_PREFIX}*`, ({ request }) => {
      const url = request.url;
      const at = url.indexOf(MIRROR_PREFIX);
      // The body is handed on unread: the /api/v1 route parses (and checks) it after its own checks.
      const target = url.slice(0, at) + url.slice(at + "/admin".length);
      const mirrored = new Request(target, { method: request.method, headers: request.headers, body: request.body, duplex: "half" } as RequestInit);
      setRequestMeta(mirrored, requestMeta(request));
      return handle(mirrored);
    });

  return new Elysia().use(adminPage).use(loginRoutes).use(sessionRoutes);
}
