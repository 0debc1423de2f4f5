// The part both floor rows share: a bare Bun.serve doing only what the contract requires of every
// request, with no framework and no edge of ours — one pass over the request headers (the 431 size
// check, the client's X-Request-Id, Authorization), the three common response headers (docs/api-reference.md §1.3)
// and one log line through Mailroom's own logger. Port from $PORT, loopback only.
import { createLogger } from "../../src/lib/log";

export interface FloorRequest {
  id: string;
  authorization: string | null;
  /** Set by the route when a token was accepted (logged). */
  tokenId: number | null;
}

export const COMMON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } as const;

const VALID_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const MAX_HEADER_BYTES = 16 * 1024;

export const refusal = (status: number, error: string, id: string) =>
  new Response(JSON.stringify({ error }), { status, headers: { ...COMMON_HEADERS, "x-request-id": id } });

export function serveFloor(path: string, answer: (request: FloorRequest) => Response): void {
  const log = createLogger();
  let counter = 0;
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
      const floor: FloorRequest = { id: given !== null && VALID_REQUEST_ID.test(given) ? given : `floor-${(++counter).toString(36)}`, authorization, tokenId: null };
      const response = headerSize > MAX_HEADER_BYTES ? refusal(431, "Request Header Fields Too Large", floor.id) : answer(floor);
      log.request(request.method, path, response.status, Math.round((performance.now() - started) * 1000) / 1000, floor.id, floor.tokenId);
      return response;
    },
  });
}
