/**
 * GET /metrics in the Prometheus text format, and the hook that tells the HTTP edge which route
 * template answered each request (the `route` label: a bounded set, unlike raw paths with ids).
 *
 * Access: a loopback client, or `Authorization: Bearer <MAILROOM_METRICS_TOKEN>`; anything else is
 * 403. "Client" is the client IP (§1.1), so a remote scraper behind a trusted local proxy needs the
 * token. A wrong token counts as a failed authentication of its IP, like a wrong API token.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import { isLoopback } from "@/auth/ip";
import type { Deps } from "@/deps";
import { bearerToken } from "@/http/auth";
import { forbidden } from "@/lib/errors";
import { requestMeta } from "@/http/request";

/** Fixed-length digests, so the comparison takes the same time whatever the given token's length. */
const digest = (value: string) => createHash("sha256").update(value).digest();

const NO_ACCESS = "Metrics are served to loopback clients, or with the bearer token set in MAILROOM_METRICS_TOKEN";

export function metricsRoutes(deps: Deps) {
  const { metrics, config } = deps;
  const expected = config.metricsToken === undefined ? null : digest(config.metricsToken);

  /** @throws AppError 403 (no or wrong token), 429 after too many failed attempts from one IP. */
  const checkAccess = (request: Request): void => {
    const meta = requestMeta(request);
    if (isLoopback(meta.ip)) return;
    const given = bearerToken(request.headers.get("authorization"));
    if (given === null) throw forbidden(NO_ACCESS);
    if (expected === null || !timingSafeEqual(digest(given), expected)) {
      throw deps.auth.failed(meta.ip, deps.clock.now(), forbidden("Invalid metrics token"), "metrics_token");
    }
  };

  return (
    new Elysia()
      // Global: every route registered after this plugin records its template on the request.
      .onTransform({ as: "global" }, ({ request, route }) => {
        // The dashboard mirror hands a request on to its /api/v1 route: the first template is kept.
        requestMeta(request).route ??= route;
      })
      .get("/metrics", async ({ request }) => {
        checkAccess(request);
        return new Response(await metrics.scrape(), { headers: { "content-type": metrics.contentType, "cache-control": "no-store" } });
      })
  );
}
