/**
 * The double opt-in confirmation page of §10.2/§16 under MAILROOM_PUBLIC_URL, no token. GET shows a
 * Confirm button and changes nothing (mail scanners prefetch links); POST confirms, idempotently,
 * 30 a minute per IP. A forged, tampered or expired link gets a plain 404 page and changes nothing.
 */
import { Elysia } from "elysia";
import { RateLimiter } from "@/auth/rate-limiter";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { rawResponse, route } from "@/http/contract";
import { textParam } from "@/http/params";
import { requestMeta } from "@/http/request";
import { escapeHtml } from "@/lib/html";
import { confirmByLink, pageText, readConfirmLink, type ConfirmLink } from "./service";

const POSTS_PER_MINUTE = 30;
const HTML = { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" };

function page(heading: string, body: string, status: number, extra = ""): Response {
  return new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
      `<meta name="robots" content="noindex"><title>${escapeHtml(heading)}</title></head>` +
      `<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;text-align:center">` +
      `<main><h1>${escapeHtml(heading)}</h1><p>${escapeHtml(body)}</p>${extra}</main></body></html>`,
    { status, headers: HTML },
  );
}

/** The page of a link that cannot (or need not) be confirmed: 404 when invalid or expired, 200 when already confirmed. */
function stateWithoutButton(deps: Deps, link: ConfirmLink): Response {
  const text = pageText(deps, link.channel, link.state);
  return page(text.heading, text.body, link.state === "already_confirmed" ? 200 : 404);
}

export const confirmationRoutes = (deps: Deps) => {
  const posts = new RateLimiter<string>();
  return (
    new Elysia()
      .use(authPlugin(deps))
      .get(
        "/c/:token",
        ...route(
          {
            summary: "Double opt-in confirmation page (changes nothing)",
            public: true,
            params: { token: textParam("signed confirmation token") },
            response: { 200: rawResponse("text/html"), 404: rawResponse("text/html") },
          },
          ({ params }) => {
            const link = readConfirmLink(deps, params.token, deps.clock.now());
            if (link.state !== "pending") return stateWithoutButton(deps, link);
            const text = pageText(deps, link.channel, "pending");
            const button = `<p><b>${escapeHtml(link.subscriber.email)}</b> · ${escapeHtml(link.channel.name)}</p>` +
              `<form method="post"><button type="submit" style="font-size:1rem;padding:.6rem 1.4rem">Confirm</button></form>`;
            return page(text.heading, text.body, 200, button);
          },
        ),
      )
      // A plain handler: the page's form posts `application/x-www-form-urlencoded`, which the API's
      // JSON body reader (415 for other types) must not see. The body is not read.
      .post("/c/:token", ({ params, request }) => {
        const now = deps.clock.now();
        posts.pruneEvery(now);
        const limit = posts.take(requestMeta(request).ip ?? "", POSTS_PER_MINUTE, now);
        if (!limit.allowed) {
          return new Response("Too many requests", { status: 429, headers: { "content-type": "text/plain; charset=utf-8", "retry-after": String(limit.retryAfter) } });
        }
        const link = readConfirmLink(deps, params.token, now);
        if (link.state !== "pending") return stateWithoutButton(deps, link);
        confirmByLink(deps, link.channel, link.subscriber);
        const text = pageText(deps, link.channel, "confirmed");
        return page(text.heading, text.body, 200);
      })
  );
};
