// install.sh: usage, the systemd unit it writes (checked by systemd-analyze where
// present), the default env file, the --service install, and the Node fallback the install builds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SETTINGS } from "@/config";
import { freshBinary, TOKEN_PATTERN } from "./binary";

const ROOT = resolve(import.meta.dir, "..");
const SCRIPT = join(ROOT, "install.sh");

function run(cmd: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync(cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mailroom-install-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("happy", () => {
  test("--help prints usage and exits 0 without building", () => {
    const r = run(["sh", SCRIPT, "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Usage: ./install.sh");
    for (const mode of ["--start", "--test", "--service", "--print-unit"]) expect(r.out).toContain(mode);
  });

  test("the script parses as POSIX sh (dash when present)", () => {
    expect(run(["sh", "-n", SCRIPT]).code).toBe(0);
    if (Bun.which("dash")) expect(run(["dash", "-n", SCRIPT]).code).toBe(0);
  });

  test("--print-unit renders the service with the required settings", () => {
    const r = run(["sh", SCRIPT, "--print-unit"]);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    for (const want of [
      "ExecStart=/usr/local/bin/mailroom serve",
      "EnvironmentFile=/etc/mailroom/mailroom.env",
      "Environment=MAILROOM_DATA_DIR=/var/lib/mailroom",
      "User=mailroom",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ReadWritePaths=/var/lib/mailroom",
      "WantedBy=multi-user.target",
    ]) expect(lines).toContain(want);
    // The Bun JIT needs W+X memory: this setting would make the service crash at start.
    expect(r.out).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });

  test("INSTALL_PATH moves ExecStart", () => {
    const r = run(["sh", SCRIPT, "--print-unit"], { INSTALL_PATH: "/opt/mailroom/bin" });
    expect(r.out.split("\n")).toContain("ExecStart=/opt/mailroom/bin/mailroom serve");
  });

  const analyze = Bun.which("systemd-analyze");
  test.skipIf(!analyze)("systemd-analyze verify accepts the unit without warnings", () => {
    // verify checks that ExecStart exists, so point it at a stub executable.
    const bin = join(dir, "bin");
    Bun.spawnSync(["mkdir", "-p", bin]);
    writeFileSync(join(bin, "mailroom"), "#!/bin/sh\nexit 0\n");
    chmodSync(join(bin, "mailroom"), 0o755);
    const unit = join(dir, "mailroom.service");
    const rendered = run(["sh", SCRIPT, "--print-unit"], { INSTALL_PATH: bin });
    expect(rendered.code).toBe(0);
    writeFileSync(unit, rendered.out);
    const r = run([analyze!, "verify", unit]);
    // Unknown or misspelt keys are only warnings (exit 0), so stderr must be clean too.
    const complaints = (r.err + r.out).split("\n").filter((l) => l.includes("mailroom"));
    expect(complaints).toEqual([]);
    expect(r.code).toBe(0);
  });

  test("--print-env is all comments and only names MAILROOM_* settings", () => {
    const r = run(["sh", SCRIPT, "--print-env"]);
    expect(r.code).toBe(0);
    const settings = r.out.split("\n").filter((l) => l.trim() !== "");
    expect(settings.every((l) => l.startsWith("#"))).toBe(true);
    const vars = settings.filter((l) => /^#[A-Z_]+=/.test(l));
    expect(vars.length).toBeGreaterThan(10);
    for (const v of vars) expect(v).toMatch(/^#MAILROOM_[A-Z_]+=/);
    expect(vars).toContain("#MAILROOM_PORT=3000");
    // Every setting the server reads is listed, once.
    const names = vars.map((v) => v.slice(1, v.indexOf("=")));
    expect([...names].sort()).toEqual(Object.values(SETTINGS).map((s) => s.env).sort());
    expect(vars).toContain("#MAILROOM_DATA_DIR=/var/lib/mailroom");
  });
});

// The real --service path, as root, in a temp layout: stub `bun` (the build is done by freshBinary)
// and `systemctl` (not running here); the user is `daemon`, which exists on Debian and Alpine.
const serviceUid = Bun.spawnSync(["id", "-u", "daemon"]).stdout.toString().trim();
describe.skipIf(process.getuid?.() !== 0 || !serviceUid)("--service", () => {
  test("runs `mailroom init` as the service user with the unit's settings before the unit starts: the values reach the terminal once; a rerun shows no secrets", () => {
    freshBinary();
    const base = join(dir, "service");
    const stubs = join(base, "stubs");
    mkdirSync(join(base, "etc"), { recursive: true });
    mkdirSync(stubs);
    chmodSync(dir, 0o755);
    chmodSync(base, 0o755);
    writeFileSync(join(stubs, "bun"), "#!/bin/sh\nexit 0\n");
    writeFileSync(join(stubs, "systemctl"), `#!/bin/sh\necho "$*" >>"${join(base, "systemctl.log")}"\n`);
    chmodSync(join(stubs, "bun"), 0o755);
    chmodSync(join(stubs, "systemctl"), 0o755);
    // An operator's config from before the install: init must use it, as the unit will.
    writeFileSync(join(base, "etc/mailroom.env"), '# kept\nMAILROOM_ADMIN_EMAIL="ops@example.com"\nMAILROOM_PUBLIC_URL=https://mail.example.com\n');
    const env = {
      PATH: `${stubs}:${process.env.PATH}`,
      INSTALL_PATH: join(base, "bin"),
      SERVICE_USER: "daemon",
      SERVICE_DATA_DIR: join(base, "data"),
      SERVICE_CONF_DIR: join(base, "etc"),
      SERVICE_UNIT_DIR: join(base, "units"),
    };

    const first = run(["sh", SCRIPT, "--service"], env);
    expect(first.err).not.toContain("error");
    expect(first.code).toBe(0);
    expect(first.out).toContain("Mailroom is set up");
    expect(first.out).toContain("ops@example.com");
    expect(first.out).toContain("https://mail.example.com/admin");
    const token = TOKEN_PATTERN.exec(first.out)![0];
    const db = join(base, "data/mailroom.db");
    expect(String(statSync(db).uid)).toBe(serviceUid);
    expect(statSync(db).mode & 0o777).toBe(0o640);
    for (const file of readdirSync(join(base, "data"))) expect(readFileSync(join(base, "data", file), "latin1")).not.toContain(token);
    expect(readFileSync(join(base, "units/mailroom.service"), "utf8")).toContain(`ExecStart=${join(base, "bin")}/mailroom serve`);
    expect(first.out).not.toContain("journalctl -u mailroom | grep");

    const again = run(["sh", SCRIPT, "--service"], env);
    expect(again.code).toBe(0);
    expect(again.out).toContain("is already set up; no values are shown again");
    expect(again.out).not.toMatch(TOKEN_PATTERN);
  }, 60_000);
});

describe("errors", () => {
  test("an unknown flag is a usage error (exit 2)", () => {
    const r = run(["sh", SCRIPT, "--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Usage:");
  });

  test("extra arguments to the build or --service mode are a usage error", () => {
    expect(run(["sh", SCRIPT, "--service", "extra"]).code).toBe(2);
    expect(run(["sh", SCRIPT, "--", "extra"]).code).toBe(2);
  });
});

describe("node fallback", () => {
  // bun install builds better-sqlite3 (optional dependency) for Node; install.sh --test
  // insists on it, and this proves the installed copy loads and answers under Node.
  test("better-sqlite3 opens an in-memory DB under node", () => {
    const node = Bun.which("node");
    expect(node).not.toBeNull();
    const r = run([node!, "-e", "const d=require('better-sqlite3')(':memory:');process.stdout.write(JSON.stringify(d.prepare('select 1 x').get()))"]);
    expect(r.err).toBe("");
    expect(r.out).toBe('{"x":1}');
  });
});
