/**
 * Crash safety of the outbox on the compiled binary: accept 2,000 transactionals (each 201 means
 * committed), SIGKILL the server while it delivers to a slow SMTP sink, restart it on the same data
 * dir, and check every accepted message arrives — duplicates at most what the delivery job had claimed.
 */
import { describe, expect, test } from "bun:test";
import { binaryApi, boot, cli, crashScene, freshBinary, killHard, TOKEN_PATTERN } from "./binary";
import { startSmtpSink } from "./smtp-sink";

const TOTAL = 2000;
/** Claimed but unrecorded at a kill: the delivery job's 3 concurrent ticks × 50 messages. */
const IN_FLIGHT_BOUND = 150;

const scene = crashScene();


describe("happy", () => {
  test(
    "kill -9 mid-delivery loses no accepted message; duplicates ≤ in-flight bound",
    async () => {
      const bin = freshBinary();
      const dir = (scene.dir = bin.dir);
      const sink = (scene.sink = await startSmtpSink({ delayMs: 10 }));
      const env = { MAILROOM_RATE_LIMIT_SEND: "0", MAILROOM_RATE_LIMIT_GENERAL: "0" };
      const first = await boot(bin.bin, dir, env);
      scene.procs.push(first);
      const sendToken = TOKEN_PATTERN.exec(first.startup)![0];
      const admin = cli(bin.bin, dir, ["token", "create", "--name", "crash admin", "--preset", "all", "--scope", "all", "--json"]);
      expect(admin.code).toBe(0);
      const adminToken = JSON.parse(admin.stdout).token as string;
      const server = await binaryApi(first, adminToken, "POST", "/email_servers", {
        channel: "default",
        label: "slow sink",
        smtp_address: "127.0.0.1",
        smtp_port: sink.port,
        smtp_enable_starttls_auto: false,
      });
      expect(server.status).toBe(201);

      // Accept everything first (20 concurrent clients); each 201 is a committed outbox row.
      const accepted = new Map<number, string>();
      let next = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next < TOTAL) {
            const i = next++;
            const res = await binaryApi(first, sendToken, "POST", "/transactionals", { to: `r${i}@example.com`, subject: `m${i}`, body: `<p>${i}</p>` });
            expect(res.status).toBe(201);
            accepted.set(res.body.id, res.body.message_id);
          }
        }),
      );
      expect(accepted.size).toBe(TOTAL);

      // Kill while delivery is part-way through.
      const until = Date.now() + 20_000;
      while (sink.accepted < 300 && Date.now() < until) await Bun.sleep(5);
      await killHard(first);
      const atKill = sink.accepted;
      expect(atKill).toBeGreaterThan(0);
      expect(atKill).toBeLessThan(TOTAL);

      const second = await boot(bin.bin, dir, env);
      scene.procs.push(second);
      await sink.waitFor(atKill, 10_000);
      const deadline = Date.now() + 40_000;
      const delivered = () => new Set(sink.messages.map((m) => m.parsed.messageId));
      while (delivered().size < TOTAL && Date.now() < deadline) await Bun.sleep(50);

      const got = delivered();
      const missing = [...accepted.values()].filter((id) => !got.has(id));
      expect(missing).toEqual([]);
      const duplicates = sink.messages.length - got.size;
      expect(duplicates).toBeLessThanOrEqual(IN_FLIGHT_BOUND);
      console.log(`crash test: ${atKill} delivered at kill, ${duplicates} duplicate(s) after restart`);

      // The restarted instance recorded every outcome.
      let sent = 0;
      for (let i = 0; i < 50 && sent < TOTAL; i++) {
        sent = (await binaryApi(second, adminToken, "GET", "/transactionals?status=sent&limit=1")).body.total;
        if (sent < TOTAL) await Bun.sleep(100);
      }
      expect(sent).toBe(TOTAL);
      second.proc.kill("SIGTERM");
      await second.proc.exited;
    },
    90_000,
  );
});
