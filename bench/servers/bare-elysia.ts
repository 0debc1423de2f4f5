// Baseline: a bare Elysia route answering the same JSON as /healthz. Port from $PORT, loopback only.
import { Elysia } from "elysia";

const body = { status: "ok", version: "1.0.0", db: "ok" };
new Elysia().get("/healthz", () => body).listen({ hostname: "127.0.0.1", port: Number(process.env.PORT ?? 0), reusePort: false });
