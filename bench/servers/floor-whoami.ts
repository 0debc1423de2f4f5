// Floor for the whoami row: a bare Bun.serve doing only the work the contract requires of an
// authenticated GET /api/v1/whoami, with no framework and no edge of ours — one pass over the
// request headers (431 check, X-Request-Id, Authorization), the token's SHA-256 looked up in a Map,
// usage noted in memory, the general bucket charged through Mailroom's own RateLimiter, the whoami
// body (from $BODY_FILE) with live rate-limit values, the eight response headers the contract
// requires (common three + five rate-limit headers, API.md §1.3/§1.7) and one log line through
// Mailroom's own logger. The token value comes from $TOKEN. Port from $PORT, loopback only.
import { RateLimiter } from "../../src/auth/rate-limiter";
import { createLogger } from "../../src/lib/log";
import { hasTokenShape, hashToken } from "../../src/lib/tokens";

const template = JSON.parse(await Bun.file(process.env.BODY_FILE!).text());
const VALID_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const BEARER = /^bearer\s+(.+)$/i;
const LIMIT = 100_000_000;
const POLICY = `"general";q=${LIMIT};w=60, "send";q=600;w=60`;
const tokens = new Map([[hashToken(process.env.TOKEN!), { id: 1 }]]);
const lastUsed = new Map<number, number>();
const limiter = new RateLimiter<number>();
const log = createLogger();
let counter = 0;

const refusal = (status: number, error: string, id: string) =>
  new Response(JSON.stringify({ error }), { status, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-request-id": id } });

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  reusePort: false,
  fetch(request) {
    const started = performance.now();
    let headerSize = 0;
    let given: string | null = null;
    let authorization: string | null = null;
    request.headers.forEach((value, name) => {
      headerSize += name.length + value.length + 4;
      if (name === "x-request-id") given = value;
      else if (name === "authorization") authorization = value;
    });
    const id = given !== null && VALID_REQUEST_ID.test(given) ? given : `floor-${(++counter).toString(36)}`;
    let response: Response;
    const value = authorization === null ? null : BEARER.exec(authorization)?.[1]?.trim();
    const token = value && hasTokenShape(value) ? tokens.get(hashToken(value)) : undefined;
    if (headerSize > 16 * 1024) response = refusal(431, "Request Header Fields Too Large", id);
    else if (!token) response = refusal(401, "Unauthorized", id);
    else {
      const now = Date.now();
      lastUsed.set(token.id, now);
      const state = limiter.take(token.id, LIMIT, now);
      const body = { ...template, rate_limits: { general: { limit: state.limit, remaining: state.remaining, reset: state.reset, window_seconds: 60 }, send: template.rate_limits.send } };
      response = new Response(JSON.stringify(body), {
        headers: {
          "content-type": "application/json; charset=utf-8",
          "cache-control": "no-store",
          "x-request-id": id,
          "x-ratelimit-limit": String(state.limit),
          "x-ratelimit-remaining": String(state.remaining),
          "x-ratelimit-reset": String(state.reset),
          "ratelimit-policy": POLICY,
          ratelimit: `"general";r=${state.remaining};t=${state.secondsToFull}`,
        },
      });
    }
    log.request(request.method, "/api/v1/whoami", response.status, Math.round((performance.now() - started) * 1000) / 1000, id, token?.id ?? null);
    return response;
  },
});
