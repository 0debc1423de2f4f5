/**
 * The compiled server keeps SQLite's shared lock on `mailroom.db-shm` (the lock that tells other
 * processes the WAL index is live), so CLI writes while it serves API writes neither crash it nor lose
 * acknowledged data (issue 18, D1: the lock was dropped by our own mapping of the file, and a CLI
 * process then rebuilt the WAL index under the server, which died with SIGBUS). Reads /proc/locks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { boot, cliAsync, freshBinary, type Booted } from "./binary";

let dir: string;
let bin: string;
let server: Booted;
const shm = () => join(dir, "data/mailroom.db-shm");

/** POSIX locks `pid` holds on the file, as /proc/locks lines ("1: POSIX ADVISORY READ <pid> <maj:min:inode> <start> <end>"). */
function locksHeld(pid: number, file: string): string[] {
  const inode = String(statSync(file).ino);
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .filter((line) => {
      const held = /^\d+: POSIX\s+ADVISORY\s+(?:READ|WRITE)\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
      return held !== null && held[1] === String(pid) && held[2] === inode;
    });
}

beforeAll(async () => {
  ({ dir, bin } = freshBinary());
  server = await boot(bin, dir, { MAILROOM_RATE_LIMIT_GENERAL: "0" });
}, 60_000);
afterAll(async () => {
  server.proc.kill("SIGKILL");
  await server.proc.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!existsSync("/proc/locks"))("the server's lock on the WAL index", () => {
  test("after start (migrations, first run) the server holds a shared lock on mailroom.db-shm", () => {
    expect(locksHeld(server.proc.pid, shm()).some((line) => line.includes(" READ "))).toBe(true);
  });

  test("CLI writes (token create/revoke, backup) under API write load: no crash, every acknowledged write kept, a revoked token refused at once", async () => {
    const made = await cliAsync(bin, dir, ["token", "create", "--name", "load", "--preset", "all", "--json"]);
    expect(made.code).toBe(0);
    const loadToken = JSON.parse(made.stdout).token as string;
    const call = (token: string, path: string, body?: object) =>
      fetch(`${server.url}/api/v1${path}`, {
        method: body ? "POST" : "GET",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body && JSON.stringify(body),
      });

    const acknowledged: string[] = [];
    const failures: string[] = [];
    let running = true;
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        const email = `load-${n}-${i}@example.com`;
        try {
          const res = await call(loadToken, "/subscribers", { email });
          if (res.status === 201) acknowledged.push(email);
          else failures.push(`${res.status} ${await res.text()}`);
        } catch (err) {
          failures.push(String(err));
          return;
        }
      }
    };
    const clients = [0, 1, 2, 3].map(client);

    const deadline = Date.now() + 12_000;
    let rounds = 0;
    try {
      for (; rounds < 6 && Date.now() < deadline; rounds++) {
        const created = await cliAsync(bin, dir, ["token", "create", "--name", `cli-${rounds}`, "--preset", "read_only", "--json"]);
        expect(created.stderr).toBe("");
        const { id, token } = JSON.parse(created.stdout) as { id: number; token: string };
        expect((await call(token, "/subscribers?per_page=1")).status).toBe(200);
        expect((await cliAsync(bin, dir, ["token", "revoke", String(id)])).code).toBe(0);
        expect((await call(token, "/subscribers?per_page=1")).status).toBe(401);
        const copy = await cliAsync(bin, dir, ["backup", join(dir, `copy-${rounds}.db`)]);
        expect(copy.code).toBe(0);
        expect(locksHeld(server.proc.pid, shm()).length).toBeGreaterThan(0);
      }
    } finally {
      running = false;
      await Promise.all(clients);
    }

    expect(rounds).toBeGreaterThanOrEqual(3);
    expect(failures).toEqual([]);
    expect(server.proc.exitCode).toBeNull();
    expect(acknowledged.length).toBeGreaterThan(0);
    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);

    const db = new Database(join(dir, "data/mailroom.db"), { readonly: true });
    try {
      expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      const stored = new Set((db.query("SELECT email FROM subscribers").all() as { email: string }[]).map((r) => r.email));
      expect(acknowledged.filter((email) => !stored.has(email))).toEqual([]);
    } finally {
      db.close();
    }
  }, 30_000);
});
