// Baseline: bare Bun.serve answering the same JSON as /healthz. Port from $PORT, loopback only.
const body = { status: "ok", version: "1.0.0", db: "ok" };
Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  reusePort: false,
  fetch: () => Response.json(body),
});
