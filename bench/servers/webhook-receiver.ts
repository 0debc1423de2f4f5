/**
 * A webhook receiver for bench/webhooks.ts: answers every POST 200 "ok" and counts them; GET /stats
 * → {count, firstAt, lastAt} (unix ms). Listens on $PORT (loopback).
 */
let count = 0;
let firstAt = 0;
let lastAt = 0;
Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT),
  async fetch(req) {
    if (req.method === "GET") return Response.json({ count, firstAt, lastAt });
    await req.arrayBuffer();
    lastAt = Date.now();
    if (count++ === 0) firstAt = lastAt;
    return new Response("ok");
  },
});
