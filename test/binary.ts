/** Helpers for tests of the compiled executable: build once per test process, boot it, read its output. */
import { afterAll } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { tempDir } from "./harness";
import type { SmtpSink } from "./smtp-sink";

const root = join(import.meta.dir, "..");
let built: string | null = null;

/** Builds dist/mailroom (once per process) and copies it into a fresh temp dir outside the repo. */
export function freshBinary(): { dir: string; bin: string } {
  if (!built) {
    const build = Bun.spawnSync(["bun", "run", "build"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
    built = join(root, "dist/mailroom");
  }
  const dir = tempDir("mailroom-bin-");
  const bin = join(dir, "mailroom");
  copyFileSync(built, bin);
  Bun.spawnSync(["chmod", "+x", bin]);
  return { dir, bin };
}

export interface Booted {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  url: string;
  /** Everything printed to stdout until the server.started line. */
  startup: string;
  output(): Promise<string>;
}

const CLEAN_ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

/** Runs `mailroom serve --port 0` in `dir` and waits for its server.started line. */
export async function boot(bin: string, dir: string, env: Record<string, string> = {}): Promise<Booted> {
  const proc = Bun.spawn([bin, "serve", "--port", "0", "--host", "127.0.0.1"], {
    cwd: dir,
    env: { ...CLEAN_ENV, MAILROOM_SMTP_PORT: "0", MAILROOM_CAPTURE_PORT: "0", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 10_000;
  while (!/"event":"server.started".*\n/.test(text)) {
    if (Date.now() > deadline) throw new Error(`no start-up line: ${text}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited early (${await proc.exited}): ${text}${await new Response(proc.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  const port = Number(/"event":"server.started".*?"port":(\d+)/.exec(text)![1]);
  let rest = "";
  const drain = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      rest += new TextDecoder().decode(value);
    }
  })();
  return { proc, port, url: `http://127.0.0.1:${port}`, startup: text, output: async () => (await drain, text + rest) };
}

/** Runs a CLI command of the binary to completion. */
export function cli(bin: string, dir: string, args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync([bin, ...args], { cwd: dir, env: { ...CLEAN_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** `cli` without blocking the test's event loop (clients keep running while the command does). */
export async function cliAsync(bin: string, dir: string, args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([bin, ...args], { cwd: dir, env: { ...CLEAN_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

export const TOKEN_PATTERN = /mr_[0-9A-Za-z]{38}/;

/** An API call to a booted binary with `token`; the body is parsed as JSON. */
export async function binaryApi(b: Booted, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${b.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/**
 * What a crash test starts — the servers it boots, the sink they deliver to, the data dir — killed,
 * stopped and removed after the file's tests, whatever state a failure left them in.
 */
export function crashScene(): { procs: Booted[]; sink: SmtpSink | null; dir: string } {
  const scene = { procs: [] as Booted[], sink: null as SmtpSink | null, dir: "" };
  afterAll(async () => {
    for (const p of scene.procs) p.proc.kill("SIGKILL");
    await scene.sink?.stop();
    if (scene.dir) rmSync(scene.dir, { recursive: true, force: true });
  });
  return scene;
}

/** SIGKILL, then wait until the process is gone. */
export async function killHard(b: Booted): Promise<void> {
  b.proc.kill("SIGKILL");
  await b.proc.exited;
}
