// Floor for the /healthz row: a bare Bun.serve doing only the work the contract requires of every
// request, with no framework and no edge of ours — one pass over the request headers (the 431 size
// check and the client's X-Request-Id), the three common response headers (API.md §1.3), and one
// log line through Mailroom's own logger. What Mailroom spends above this row is Elysia plus its edge.
// Port from $PORT, loopback only.
import { createLogger } from "../../src/lib/log";

const body = { status: "ok", version: "1.0.0", db: "ok" };
const VALID_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
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
    request.headers.forEach((value, name) => {
      headerSize += name.length + value.length + 4;
      if (name === "x-request-id") given = value;
    });
    const id = given !== null && VALID_REQUEST_ID.test(given) ? given : `floor-${(++counter).toString(36)}`;
    const response =
      headerSize > 16 * 1024
        ? new Response(JSON.stringify({ error: "Request Header Fields Too Large" }), { status: 431, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-request-id": id } })
        : new Response(JSON.stringify(body), { headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-request-id": id } });
    log.request(request.method, "/healthz", response.status, Math.round((performance.now() - started) * 1000) / 1000, id, null);
    return response;
  },
});
