/**
 * Crash safety of a broadcast on the compiled binary: SIGKILL mid fan-out, restart (the fan-out
 * continues after its cursor), SIGKILL mid delivery, restart; every eligible recipient arrives
 * exactly once, duplicates only within the delivery job's in-flight bound.
 */
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { binaryApi, boot, cli, crashScene, freshBinary, killHard } from "../binary";
import { startSmtpSink } from "../smtp-sink";

const TOTAL = 10_000;
/** Claimed but unrecorded at a kill: 3 concurrent ticks × 50 bulk messages. */
const IN_FLIGHT_BOUND = 150;

const scene = crashScene();

test(
  "kill -9 mid fan-out and mid delivery: each eligible recipient exactly once (duplicates ≤ in-flight bound)",
  async () => {
    const bin = freshBinary();
    const dir = (scene.dir = bin.dir);
    const sink = (scene.sink = await startSmtpSink());
    const env = { MAILROOM_RATE_LIMIT_SEND: "0", MAILROOM_RATE_LIMIT_GENERAL: "0" };
    const first = await boot(bin.bin, dir, env);
    scene.procs.push(first);
    const admin = JSON.parse(cli(bin.bin, dir, ["token", "create", "--name", "crash", "--preset", "all", "--scope", "all", "--json"]).stdout).token as string;
    expect((await binaryApi(first, admin, "POST", "/email_servers", { channel: "default", label: "sink", smtp_address: "127.0.0.1", smtp_port: sink.port, smtp_enable_starttls_auto: false })).status).toBe(201);
    for (let start = 0; start < TOTAL; start += 5000) {
      const rows = Array.from({ length: 5000 }, (_, i) => ({ email: `r${start + i}@example.com` }));
      expect((await binaryApi(first, admin, "POST", "/subscribers/bulk", { channel: "default", subscribers: rows })).status).toBe(200);
    }
    const b = (await binaryApi(first, admin, "POST", "/broadcasts", { channel: "default", subject: "Hi", body: "<p>Hi</p>" })).body;
    const db = new Database(join(dir, "data", "mailroom.db"), { readonly: true });
    const progress = () => db.prepare("SELECT status, enqueued_count FROM broadcasts WHERE id = ?").get(b.id) as { status: string; enqueued_count: number };

    expect((await binaryApi(first, admin, "POST", `/broadcasts/${b.id}/send_broadcast`)).status).toBe(200);
    // Kill as soon as the first fan-out batch is committed.
    const until = Date.now() + 20_000;
    while (progress().enqueued_count === 0 && Date.now() < until) await Bun.sleep(1);
    await killHard(first);
    const atFirstKill = progress();
    expect(atFirstKill.status).toBe("queueing");
    expect(atFirstKill.enqueued_count).toBeGreaterThan(0);
    expect(atFirstKill.enqueued_count).toBeLessThan(TOTAL);

    const second = await boot(bin.bin, dir, env);
    scene.procs.push(second);
    while (sink.accepted < TOTAL / 2 && Date.now() < until + 60_000) await Bun.sleep(5);
    await killHard(second);
    expect(sink.accepted).toBeLessThan(TOTAL);

    const third = await boot(bin.bin, dir, env);
    scene.procs.push(third);
    const deadline = Date.now() + 60_000;
    const unique = () => new Set(sink.messages.map((m) => m.envelope.to[0]));
    while ((unique().size < TOTAL || progress().status !== "sent") && Date.now() < deadline) await Bun.sleep(50);
    expect(unique().size).toBe(TOTAL);
    const duplicates = sink.messages.length - TOTAL;
    expect(duplicates).toBeLessThanOrEqual(IN_FLIGHT_BOUND);
    expect(db.prepare("SELECT count(*) AS n FROM messages WHERE broadcast_id = ?").get(b.id)).toEqual({ n: TOTAL });
    expect(progress()).toEqual({ status: "sent", enqueued_count: TOTAL });
    console.log(`broadcast crash test: ${atFirstKill.enqueued_count} enqueued at the first kill, ${duplicates} duplicate(s)`);
    db.close();
    third.proc.kill("SIGTERM");
    await third.proc.exited;
  },
  150_000,
);
