// Floor for the whoami row: the shared required work (floor.ts), then what an authenticated
// GET /api/v1/whoami requires — the token's SHA-256 looked up in a Map, usage noted in memory, the
// general bucket charged through Mailroom's own RateLimiter, the whoami body (from $BODY_FILE) with
// live rate-limit values, and the five rate-limit headers (docs/api-reference.md §1.7). The token value comes from
// $TOKEN.
import { RateLimiter } from "../../src/auth/rate-limiter";
import { hasTokenShape, hashToken } from "../../src/lib/tokens";
import { COMMON_HEADERS, refusal, serveFloor } from "./floor";

const template = JSON.parse(await Bun.file(process.env.BODY_FILE!).text());
const BEARER = /^bearer\s+(.+)$/i;
const LIMIT = 100_000_000;
const POLICY = `"general";q=${LIMIT};w=60, "send";q=600;w=60`;
const tokens = new Map([[hashToken(process.env.TOKEN!), { id: 1 }]]);
const lastUsed = new Map<number, number>();
const limiter = new RateLimiter<number>();

serveFloor("/api/v1/whoami", (request) => {
  const value = request.authorization === null ? null : BEARER.exec(request.authorization)?.[1]?.trim();
  const token = value && hasTokenShape(value) ? tokens.get(hashToken(value)) : undefined;
  if (!token) return refusal(401, "Unauthorized", request.id);
  request.tokenId = token.id;
  const now = Date.now();
  lastUsed.set(token.id, now);
  const state = limiter.take(token.id, LIMIT, now);
  const body = { ...template, rate_limits: { general: { limit: state.limit, remaining: state.remaining, reset: state.reset, window_seconds: 60 }, send: template.rate_limits.send } };
  return new Response(JSON.stringify(body), {
    headers: {
      ...COMMON_HEADERS,
      "x-request-id": request.id,
      "x-ratelimit-limit": String(state.limit),
      "x-ratelimit-remaining": String(state.remaining),
      "x-ratelimit-reset": String(state.reset),
      "ratelimit-policy": POLICY,
      ratelimit: `"general";r=${state.remaining};t=${state.secondsToFull}`,
    },
  });
});
