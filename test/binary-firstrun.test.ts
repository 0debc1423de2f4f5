/**
 * Where the one-time first-run values (admin password, default token) go (issue 18, D8): `mailroom
 * init` prints them to the operator; a `serve` whose stdout is the systemd journal logs only how to
 * get values; a terminal or a file gets the banner. The values are never written to the data dir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { boot, cli, freshBinary, TOKEN_PATTERN, type Booted } from "./binary";

let dir: string;
let bin: string;
beforeAll(() => ({ dir, bin } = freshBinary()), 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const whoami = (url: string, token: string) => fetch(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
const stop = async (server: Booted) => {
  server.proc.kill("SIGTERM");
  expect(await server.proc.exited).toBe(0);
  return server.output();
};
/** Every file of a data dir, as text (SQLite pages included): what a copy of the dir would reveal. */
const dataDirText = (dataDir: string) => readdirSync(dataDir).map((f) => readFileSync(join(dataDir, f), "latin1")).join("\n");

describe("mailroom init", () => {
  test("a new instance: the values are printed once, here; serve then starts without a banner; a second init shows no secrets", async () => {
    const dataDir = join(dir, "init-data");
    const first = cli(bin, dir, ["init", "--data-dir", dataDir], { MAILROOM_ADMIN_EMAIL: "ops@example.com" });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("Mailroom is set up");
    expect(first.stdout).toContain("ops@example.com");
    const token = TOKEN_PATTERN.exec(first.stdout)![0];
    const password = /password:\s+(\S+)/.exec(first.stdout)![1];
    expect(dataDirText(dataDir)).not.toContain(token);
    expect(dataDirText(dataDir)).not.toContain(password);

    const server = await boot(bin, dir, { MAILROOM_DATA_DIR: dataDir });
    try {
      expect(server.startup).not.toContain("Mailroom is set up");
      expect(server.startup).not.toContain('"event":"setup.first_run"');
      expect(await whoami(server.url, token)).toBe(200);
      // A token a client put in a URL path is not copied into the request log.
      await (await fetch(`${server.url}/api/v1/subscribers/${token}`)).text();
    } finally {
      const out = await stop(server);
      expect(out).not.toContain(token);
      expect(out).toContain('"path":"/api/v1/subscribers/mr_[redacted]"');
    }

    const again = cli(bin, dir, ["init", "--data-dir", dataDir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Mailroom in ${dataDir} is already set up; no values are shown again.`);
    expect(again.stdout).toContain("mailroom admin reset-password");
    expect(again.stdout).not.toMatch(TOKEN_PATTERN);
    expect(again.stdout).not.toContain(password);
  });
});

describe.skipIf(!existsSync("/proc/self/fd/1"))("serve's own first run", () => {
  /** Starts serve the way systemd does for the journal: JOURNAL_STREAM names stdout's device:inode. */
  const journalWrapper = () => {
    const wrapper = join(dir, "as-journal.sh");
    writeFileSync(wrapper, `#!/bin/sh\nJOURNAL_STREAM="$(stat -L -c %d:%i /proc/$$/fd/1)"\nexport JOURNAL_STREAM\nexec "${bin}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    return wrapper;
  };

  test("stdout is the journal: one info line on how to get values, no values anywhere", async () => {
    const dataDir = join(dir, "journal-data");
    const server = await boot(journalWrapper(), dir, { MAILROOM_DATA_DIR: dataDir });
    let out = "";
    try {
      expect(server.startup).not.toContain("Mailroom is set up");
      const line = JSON.parse(server.startup.split("\n").find((l) => l.includes('"event":"setup.first_run"'))!);
      expect(line).toMatchObject({ level: "info", admin_email: "admin", token_id: 1 });
      expect(line.message).toContain("mailroom admin reset-password admin");
      expect(line.message).toContain("mailroom token refresh 1");

      // The documented way to values works against the running server.
      const refreshed = cli(bin, dir, ["token", "refresh", "1", "--json", "--data-dir", dataDir]);
      expect(refreshed.code).toBe(0);
      expect(await whoami(server.url, JSON.parse(refreshed.stdout).token)).toBe(200);
      expect(cli(bin, dir, ["admin", "reset-password", "admin", "--data-dir", dataDir]).code).toBe(0);
    } finally {
      out = await stop(server);
    }
    expect(out).not.toMatch(TOKEN_PATTERN);
    expect(out).not.toMatch(/password:/);
    expect(dataDirText(dataDir)).not.toMatch(TOKEN_PATTERN);
  });

  test("JOURNAL_STREAM inherited while stdout goes elsewhere (a pipe here): the banner is printed", async () => {
    const server = await boot(bin, dir, { MAILROOM_DATA_DIR: join(dir, "inherited-data"), JOURNAL_STREAM: "8:12345" });
    try {
      expect(server.startup).toContain("Mailroom is set up");
      expect(await whoami(server.url, TOKEN_PATTERN.exec(server.startup)![0])).toBe(200);
    } finally {
      await stop(server);
    }
  });
});
