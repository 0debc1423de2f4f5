// Floor for the /healthz row: the shared required work (floor.ts) and the /healthz body. What
// Mailroom spends above this row is Elysia plus its edge.
import { COMMON_HEADERS, serveFloor } from "./floor";

const body = { status: "ok", version: "1.0.0", db: "ok" };

serveFloor("/healthz", ({ id }) => new Response(JSON.stringify(body), { headers: { ...COMMON_HEADERS, "x-request-id": id } }));
