/**
 * The release artifact: the compiled executable, copied to an empty dir outside the repo, boots on
 * embedded migrations, prints the first-run banner once, and its CLI works against the data dir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { boot, cli, freshBinary, TOKEN_PATTERN } from "./binary";

let dir: string;
let bin: string;
beforeAll(() => ({ dir, bin } = freshBinary()), 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const get = (url: string, token?: string) => fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe("happy", () => {
  let token: string;

  test("first boot on an empty dir: migrations, banner with admin login and default token, /healthz", async () => {
    const server = await boot(bin, dir, { MAILROOM_ADMIN_EMAIL: "ops@example.com" });
    try {
      expect(server.startup).toContain("Mailroom is set up");
      expect(server.startup).toContain("ops@example.com");
      expect(server.startup).toContain('"event":"db.migrated"');
      token = TOKEN_PATTERN.exec(server.startup)![0];
      expect(((await (await get(`${server.url}/healthz`)).json()) as { status: string }).status).toBe("ok");
      const who = (await (await get(`${server.url}/api/v1/whoami`, token)).json()) as { token: { name: string; permissions: object }; channel: { slug: string } };
      expect(who.token.name).toBe("Default transactional token");
      expect(who.token.permissions).toMatchObject({ transactionals_read: true, transactionals_write: true, subscribers_read: false });
      expect(who.channel.slug).toBe("default");
      expect(existsSync(join(dir, "data/mailroom.db"))).toBe(true);
    } finally {
      server.proc.kill("SIGTERM");
      expect(await server.proc.exited).toBe(0);
    }
    const out = await server.output();
    expect(out).toContain('"event":"server.stopped"');
    // After the banner, stdout is JSON lines only (log collectors parse it): no library warnings.
    const afterStart = out.slice(out.lastIndexOf("\n", out.indexOf('"event":"server.started"')) + 1).split("\n").filter(Boolean);
    expect(afterStart.filter((l) => !l.startsWith("{"))).toEqual([]);
    const requestLine = out.split("\n").find((l) => l.includes('"path":"/api/v1/whoami"'))!;
    expect(JSON.parse(requestLine)).toMatchObject({ method: "GET", status: 200, token_id: 1 });
    expect(requestLine).not.toContain(token);
  });

  test("second boot: no banner, data kept", async () => {
    const server = await boot(bin, dir);
    try {
      expect(server.startup).not.toContain("Mailroom is set up");
      expect(TOKEN_PATTERN.test(server.startup)).toBe(false);
      expect((await get(`${server.url}/api/v1/whoami`, token)).status).toBe(200);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  });

  test("CLI: token create/list/refresh/revoke, admin reset-password, migrate, backup while serving, version", async () => {
    const { dir, bin } = freshBinary();
    const server = await boot(bin, dir, { MAILROOM_ADMIN_EMAIL: "ops@example.com", MAILROOM_ADMIN_PASSWORD: "first-long-password" });
    const login = (password: string) =>
      fetch(`${server.url}/admin/api/login`, {
        method: "POST",
        // --port 0 keeps the default public URL, whose origin the Origin check wants.
        headers: { origin: "http://localhost:3000", "content-type": "application/json" },
        body: JSON.stringify({ email: "ops@example.com", password }),
      });
    try {
      // The admin page is embedded in the binary; a dashboard session is ended by a CLI password reset.
      const page = await (await get(`${server.url}/admin`)).text();
      expect(page).toContain("/admin/assets/app.js");
      expect((await (await get(`${server.url}/admin/assets/app.js`)).text()).length).toBeGreaterThan(10_000);
      const session = (await login("first-long-password")).headers.get("set-cookie")!.split(";")[0];
      const me = () => fetch(`${server.url}/admin/api/me`, { headers: { cookie: session } }).then((r) => r.status);
      expect(await me()).toBe(200);

      const created = cli(bin, dir, ["token", "create", "--name", "ops", "--preset", "read_only", "--permissions", "channels_write", "--scope", "all", "--json"]);
      expect(created.code).toBe(0);
      const made = JSON.parse(created.stdout);
      expect(made).toMatchObject({ name: "ops", scope: "all", channels: [], expires_at: null });
      expect(made.permissions).toContain("channels_write");
      expect(made.permissions).toContain("subscribers_read");
      expect(made.permissions).not.toContain("subscribers_write");
      expect((await get(`${server.url}/api/v1/channels`, made.token)).status).toBe(200);

      const listed = cli(bin, dir, ["token", "list", "--json"]);
      expect(listed.code).toBe(0);
      expect(listed.stdout).not.toMatch(TOKEN_PATTERN);
      expect(JSON.parse(listed.stdout).map((t: { name: string }) => t.name)).toContain("ops");

      const refreshed = cli(bin, dir, ["token", "refresh", String(made.id), "--json"]);
      const next = JSON.parse(refreshed.stdout).token;
      expect((await get(`${server.url}/api/v1/channels`, made.token)).status).toBe(401);
      expect((await get(`${server.url}/api/v1/channels`, next)).status).toBe(200);

      expect(cli(bin, dir, ["token", "revoke", String(made.id)]).code).toBe(0);
      expect((await get(`${server.url}/api/v1/channels`, next)).status).toBe(401);
      expect(cli(bin, dir, ["token", "revoke", "99999"]).code).toBe(1);

      const reset = cli(bin, dir, ["admin", "reset-password", "ops@example.com", "--password", "a-long-new-password"]);
      expect(reset.code).toBe(0);
      expect(reset.stdout).not.toContain("a-long-new-password");
      expect(await me()).toBe(401);
      expect((await login("a-long-new-password")).status).toBe(200);
      expect(cli(bin, dir, ["admin", "reset-password", "nobody@example.com"]).code).toBe(1);

      expect(cli(bin, dir, ["migrate"]).stdout).toContain("Up to date");
      const backup = cli(bin, dir, ["backup", join(dir, "copy.db")]);
      expect(backup.code).toBe(0);
      expect(readFileSync(join(dir, "copy.db")).subarray(0, 15).toString()).toBe("SQLite format 3");
      // Owner-only, like the data dir: the copy holds hashes and the link-signing secret.
      expect(statSync(join(dir, "copy.db")).mode & 0o777).toBe(0o600);
      const copy = readFileSync(join(dir, "copy.db"));
      expect(cli(bin, dir, ["backup", join(dir, "copy.db")]).code).toBe(1);
      expect(readFileSync(join(dir, "copy.db")).equals(copy)).toBe(true);
      expect(cli(bin, dir, ["version"]).stdout).toMatch(/^mailroom 1\.0\.0 \(schema \d{4}_/);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every command has --help", () => {
    for (const args of [["serve"], ["init"], ["token", "create"], ["token", "list"], ["token", "refresh"], ["token", "revoke"], ["admin", "reset-password"], ["migrate"], ["backup"], ["version"]]) {
      const r = cli(bin, dir, [...args, "--help"]);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.stdout).toStartWith(`Usage: mailroom ${args.join(" ")}`);
    }
  });
});

describe("errors", () => {
  test.each([
    { name: "unknown command", args: ["frobnicate"], code: 2, message: 'unknown command "frobnicate"' },
    { name: "unknown flag", args: ["token", "list", "--nope"], code: 2, message: "Unknown option '--nope'" },
    { name: "missing --name", args: ["token", "create", "--preset", "all"], code: 2, message: "--name is required" },
    { name: "unknown permission", args: ["token", "create", "--name", "x", "--permissions", "foo"], code: 2, message: "unknown permission: foo" },
    { name: "--channel with --scope all", args: ["token", "create", "--name", "x", "--preset", "all", "--scope", "all", "--channel", "default"], code: 2, message: "--channel is not used with --scope all" },
    { name: "bad env", args: ["serve"], env: { MAILROOM_PORT: "99999" }, code: 2, message: 'invalid MAILROOM_PORT="99999"' },
  ])("$name → exit $code with one clear line", ({ args, env, code, message }) => {
    const r = cli(bin, dir, [...args], env);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain("    at ");
  });

  test("an unreadable TLS file is refused before the data dir is touched", () => {
    const fresh = join(dir, "tls-typo");
    const r = cli(bin, dir, ["serve", "--data-dir", fresh], { MAILROOM_TLS_CERT: join(dir, "missing-cert.pem"), MAILROOM_TLS_KEY: join(dir, "missing-key.pem") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot read MAILROOM_TLS_CERT ${join(dir, "missing-cert.pem")} (ENOENT)`);
    expect(r.stderr).not.toContain("    at ");
    expect(existsSync(fresh)).toBe(false);
  });

  test("a port in use fails loudly (no SO_REUSEPORT sharing)", async () => {
    const first = await boot(bin, dir);
    try {
      const second = cli(bin, dir, ["serve", "--port", String(first.port), "--host", "127.0.0.1"], { MAILROOM_SMTP_PORT: "0", MAILROOM_CAPTURE_PORT: "0" });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`port ${first.port} on 127.0.0.1 is already in use`);
    } finally {
      first.proc.kill("SIGTERM");
      await first.proc.exited;
    }
  });

  test("a first start that fails (port in use) does not use up the one-time banner", async () => {
    const first = await boot(bin, dir);
    const fresh = join(dir, "fresh-data");
    try {
      const failed = cli(bin, dir, ["serve", "--port", String(first.port), "--host", "127.0.0.1", "--data-dir", fresh], { MAILROOM_SMTP_PORT: "0", MAILROOM_CAPTURE_PORT: "0" });
      expect(failed.code).toBe(1);
      expect(failed.stdout).not.toMatch(TOKEN_PATTERN);
    } finally {
      first.proc.kill("SIGTERM");
      await first.proc.exited;
    }
    const retry = await boot(bin, dir, { MAILROOM_DATA_DIR: fresh });
    try {
      expect(retry.startup).toContain("Mailroom is set up");
      const token = TOKEN_PATTERN.exec(retry.startup)![0];
      expect((await get(`${retry.url}/api/v1/whoami`, token)).status).toBe(200);
    } finally {
      retry.proc.kill("SIGTERM");
      await retry.proc.exited;
    }
  });

  test("a corrupt database file: clear message, exit 1, file untouched", () => {
    const bad = join(dir, "corrupt");
    mkdirSync(bad);
    const garbage = "this is not a database".repeat(100);
    writeFileSync(join(bad, "mailroom.db"), garbage);
    const r = cli(bin, dir, ["migrate", "--data-dir", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a valid SQLite database");
    expect(readFileSync(join(bad, "mailroom.db"), "utf8")).toBe(garbage);
  });

  test("commands on an instance refuse a data dir without a database (no empty instance at a typo)", () => {
    const missing = join(dir, "typo");
    for (const args of [["token", "list"], ["backup", join(dir, "b.db")]]) {
      const r = cli(bin, dir, [...args, "--data-dir", missing]);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`no Mailroom database in ${missing}`);
    }
    expect(existsSync(missing)).toBe(false);
  });

  test("a data dir that is not a directory: clear message, exit 1", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const r = cli(bin, dir, ["serve", "--data-dir", file, "--port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`data dir ${file} is not a directory`);
    expect(readFileSync(file, "utf8")).toBe("x");
  });
});
