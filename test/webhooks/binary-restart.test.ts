/**
 * Durable webhook deliveries on the compiled binary: events are dispatched while the receiver holds
 * every request, the server is killed with SIGKILL, and after a restart on the same data dir every
 * event arrives — started in order of creation, duplicates at most the attempts that were in flight.
 */
import { expect, test } from "bun:test";
import { binaryApi, boot, cli, crashScene, freshBinary, killHard, type Booted } from "../binary";

const EVENTS = 40;
const IN_FLIGHT = 4;

const scene = crashScene();

test(
  "kill -9 with deliveries pending: all delivered after restart, in order of creation",
  async () => {
    let hold = true;
    const arrivals: number[] = [];
    const receiver = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const body = (await req.json()) as { id: number };
        arrivals.push(body.id);
        // Held requests never answer: the server dies with them in flight.
        if (hold) return new Promise<Response>(() => {});
        return new Response("ok");
      },
    });
    try {
      const bin = freshBinary();
      const dir = (scene.dir = bin.dir);
      const env = { MAILROOM_ALLOW_HTTP_WEBHOOKS: "1", MAILROOM_RATE_LIMIT_GENERAL: "0" };
      const first = await boot(bin.bin, dir, env);
      scene.procs.push(first);
      const token = JSON.parse(cli(bin.bin, dir, ["token", "create", "--name", "t", "--preset", "all", "--scope", "all", "--json"]).stdout).token as string;
      const api = (b: Booted, method: string, path: string, body: unknown) => binaryApi(b, token, method, path, body);
      const endpoint = await api(first, "POST", "/webhook_endpoints", { channel: "default", webhook_endpoint: { url: `http://127.0.0.1:${receiver.port}/hook`, event_types: ["subscriber.created"] } });
      expect(endpoint.status).toBe(201);
      for (let i = 0; i < EVENTS; i++) expect((await api(first, "POST", "/subscribers", { channel: "default", email: `s${i}@example.com` })).status).toBe(201);
      // The first attempts are in flight (held) and the rest are stored, pending.
      for (let i = 0; i < 500 && arrivals.length < IN_FLIGHT; i++) await Bun.sleep(10);
      expect(arrivals.length).toBe(IN_FLIGHT);
      await killHard(first);

      hold = false;
      const beforeRestart = arrivals.length;
      const second = await boot(bin.bin, dir, env);
      scene.procs.push(second);
      for (let i = 0; i < 1000 && new Set(arrivals).size < EVENTS; i++) await Bun.sleep(10);
      const ids = new Set(arrivals);
      expect(ids.size).toBe(EVENTS);
      expect(arrivals.length - EVENTS).toBeLessThanOrEqual(IN_FLIGHT);
      // After the restart, attempts start oldest first (≤ 4 at a time may overtake each other).
      const after = arrivals.slice(beforeRestart);
      const sorted = [...after].sort((a, b) => a - b);
      after.forEach((id, i) => expect(Math.abs(sorted.indexOf(id) - i)).toBeLessThan(IN_FLIGHT));
      second.proc.kill("SIGTERM");
      await second.proc.exited;
    } finally {
      receiver.stop(true);
    }
  },
  60_000,
);
