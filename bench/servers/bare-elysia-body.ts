// Baseline for the whoami row: a bare Elysia route with no auth answering the same JSON body as
// Mailroom's GET /api/v1/whoami (read from $BODY_FILE). Port from $PORT, loopback only.
import { Elysia } from "elysia";

const body = JSON.parse(await Bun.file(process.env.BODY_FILE!).text());
new Elysia().get("/api/v1/whoami", () => body).listen({ hostname: "127.0.0.1", port: Number(process.env.PORT ?? 0), reusePort: false });
