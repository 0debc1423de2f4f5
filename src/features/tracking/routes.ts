/**
 * The public pages of §16 under MAILROOM_PUBLIC_URL, no token: the open pixel, the click redirect
 * and the unsubscribe page with its RFC 8058 one-click POST. A forged, tampered or stale token gets
 * the same plain 404 page and changes nothing; `HEAD` records nothing.
 */
import { Elysia } from "elysia";
import { RateLimiter } from "@/auth/rate-limiter";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { rawResponse, route } from "@/http/contract";
import { textParam } from "@/http/params";
import { requestMeta } from "@/http/request";
import { escapeHtml } from "@/lib/html";
import { clickTarget, readToken, recordClick, recordOpen, unsubscribeByLink, unsubscribeTarget, type Visitor } from "./service";

/** The 43-byte transparent 1×1 GIF. */
const PIXEL = Buffer.from("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==", "base64");
const POSTS_PER_MINUTE = 30;
const HTML = { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" };

const page = (title: string, inner: string, status = 200) =>
  new Response(
    `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>` +
      `<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto;text-align:center">${inner}</body></html>`,
    { status, headers: HTML },
  );
const notFoundPage = () => page("Not found", "<h1>Not found</h1><p>This link is not valid.</p>", 404);

const visitor = (request: Request): Visitor => ({ ip: requestMeta(request).ip, userAgent: request.headers.get("user-agent") });

export const trackingRoutes = (deps: Deps) => {
  const posts = new RateLimiter<string>();
  return (
    new Elysia()
      .use(authPlugin(deps))
      .get(
        "/t/o/:file",
        ...route(
          { summary: "Open pixel", public: true, params: { file: textParam("<token>.gif") }, response: { 200: rawResponse("image/gif") } },
          ({ params, request }) => {
            const token = params.file.endsWith(".gif") ? params.file.slice(0, -4) : null;
            const payload = token ? readToken(deps, "open", token, 1) : null;
            if (payload && request.method === "GET") recordOpen(deps, payload[0]!, visitor(request));
            return new Response(PIXEL, { headers: { "content-type": "image/gif", "cache-control": "no-store, private" } });
          },
        ),
      )
      .get(
        "/t/c/:token",
        ...route(
          { summary: "Tracked link: redirects to the stored URL", public: true, params: { token: textParam("signed click token") }, response: { 302: rawResponse("text/plain"), 404: rawResponse("text/html") } },
          ({ params, request }) => {
            const payload = readToken(deps, "click", params.token, 2);
            if (!payload) return notFoundPage();
            // HEAD follows the same stored target but records nothing.
            const target = request.method === "GET" ? recordClick(deps, payload[0]!, payload[1]!, visitor(request)) : clickTarget(deps, payload);
            return target ? new Response(null, { status: 302, headers: { location: target, "cache-control": "no-store" } }) : notFoundPage();
          },
        ),
      )
      .get(
        "/u/:token",
        ...route(
          { summary: "Unsubscribe page (changes nothing)", public: true, params: { token: textParam("signed unsubscribe token") }, response: { 200: rawResponse("text/html"), 404: rawResponse("text/html") } },
          ({ params }) => {
            const payload = readToken(deps, "unsub", params.token, 2);
            const s = payload && unsubscribeTarget(deps, payload);
            if (!s) return notFoundPage();
            return page(
              "Unsubscribe",
              `<h1>Unsubscribe</h1><p>Stop receiving these emails at <b>${escapeHtml(s.email)}</b>?</p>` +
                `<form method="post"><button type="submit" style="font-size:1rem;padding:.6rem 1.4rem">Unsubscribe</button></form>`,
            );
          },
        ),
      )
      // A plain handler: RFC 8058 clients post `application/x-www-form-urlencoded`, which the API's
      // JSON body reader (415 for other types) must not see.
      .post("/u/:token", async ({ params, request }) => {
        const ip = requestMeta(request).ip;
        const now = deps.clock.now();
        posts.pruneEvery(now);
        const limit = posts.take(ip, POSTS_PER_MINUTE, now);
        if (!limit.allowed) return new Response("Too many requests", { status: 429, headers: { "content-type": "text/plain; charset=utf-8", "retry-after": String(limit.retryAfter) } });
        const payload = readToken(deps, "unsub", params.token, 2);
        if (!payload || !unsubscribeByLink(deps, payload)) return notFoundPage();
        const body = (await request.text().catch(() => "")).trim();
        if (body === "List-Unsubscribe=One-Click") return new Response("Unsubscribed", { headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });
        return page("Unsubscribed", "<h1>Unsubscribed</h1><p>You will not receive these emails any more.</p>");
      })
  );
};
