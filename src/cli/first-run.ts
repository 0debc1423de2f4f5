/**
 * `mailroom init`, and how any first run hands its one-time values (admin password, default token)
 * to a person: printed to a terminal or a file, never into the systemd journal, where they would stay.
 */
import { fstatSync } from "node:fs";
import { buildDeps, firstRun, formatBanner, openDataDir, type FirstRun } from "@/boot";
import { loadConfig, type Config } from "@/config";
import { createLogger, type Logger } from "@/lib/log";
import { systemClock } from "@/lib/time";
import { DATA_DIR_OPTION, dataDirArgv, parse, type Command } from "./args";
import { closeCliDeps } from "./context";

export const init: Command = {
  usage: `mailroom init [--data-dir DIR]
  Creates (or migrates) the data dir. On a new instance it creates the dashboard admin and the default
  token and prints their values once, here; run it before a service's first start, as the service's
  user, so the values reach you and not the service log. On an instance already set up it says so and
  prints no secrets.`,
  async run(argv, env) {
    const { values } = parse(argv, { ...DATA_DIR_OPTION });
    const config = loadConfig(env, dataDirArgv(values));
    const log = createLogger((chunk) => process.stderr.write(chunk));
    const { database, applied } = openDataDir(config);
    const deps = buildDeps(config, database, log, systemClock);
    try {
      if (applied.length) console.log(`Applied migrations: ${applied.join(", ")}`);
      const seeded = await firstRun(deps);
      if (seeded) announceFirstRun(seeded, config, log, env);
      else console.log(`Mailroom in ${config.dataDir} is already set up; no values are shown again.\n${HOW_TO_GET_VALUES}`);
      return 0;
    } finally {
      log.flush();
      closeCliDeps(deps);
    }
  },
};

const HOW_TO_GET_VALUES = "New values: `mailroom admin reset-password EMAIL` (admin password), `mailroom token refresh ID` (token; IDs in `mailroom token list`).";

/**
 * Prints the first-run banner, unless stdout is the systemd journal: then one info line says what
 * was created and how to get values, and the values (shown nowhere else) are never written.
 */
export function announceFirstRun(run: FirstRun, config: Readonly<Config>, log: Logger, env: Record<string, string | undefined>): void {
  if (!stdoutIsJournal(env)) {
    process.stdout.write(formatBanner(run, config.publicUrl));
    return;
  }
  const password = run.adminPassword ? `set a password with \`mailroom admin reset-password ${run.adminEmail}\`` : "its password is MAILROOM_ADMIN_PASSWORD";
  log.info("setup.first_run", {
    admin_email: run.adminEmail,
    token_id: run.tokenId,
    message:
      `Created the dashboard admin ${run.adminEmail} and the "Default transactional token" (id ${run.tokenId}); ` +
      `their values are not logged. For the admin, ${password}; for a token value, run \`mailroom token refresh ${run.tokenId}\` ` +
      "(as the service user, with the same data dir).",
  });
}

/**
 * systemd sets JOURNAL_STREAM to the device:inode of the journal stream it connected; it is also
 * inherited by children that print elsewhere (a terminal opened from a desktop session), so it
 * counts only when it names our own stdout (as systemd.exec(5) advises).
 */
function stdoutIsJournal(env: Record<string, string | undefined>): boolean {
  if (!env.JOURNAL_STREAM) return false;
  try {
    const stdout = fstatSync(1, { bigint: true });
    return env.JOURNAL_STREAM === `${stdout.dev}:${stdout.ino}`;
  } catch {
    return false;
  }
}
