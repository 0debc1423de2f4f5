/**
 * `mailroom serve`: first-run banner once (only an info line when stdout is the systemd journal),
 * then JSON log lines; SIGTERM/SIGINT stop gracefully.
 */
import { accessSync, constants } from "node:fs";
import { buildDeps, firstRun, openDataDir } from "@/boot";
import { StartupError } from "@/lib/errors";
import { CONFIG_FLAGS, flagName, loadConfig, redactedConfig, SETTINGS } from "@/config";
import { createLogger } from "@/lib/log";
import { systemClock } from "@/lib/time";
import { startMailroom } from "@/runtime";
import { VERSION } from "@/version";
import { parse, type Command } from "./args";
import { announceFirstRun } from "./first-run";

export const serve: Command = {
  usage: `mailroom serve [flags]
  Runs the HTTP API (and the other services) on the data dir. Every setting has a flag and an env var:
${Object.entries(SETTINGS)
  .map(([key, s]) => `    --${flagName(key).padEnd(24)} ${s.env.padEnd(32)} ${s.help}${s.default !== undefined && s.default !== "" ? ` (default ${s.default})` : ""}`)
  .join("\n")}`,
  async run(argv, env) {
    parse(argv, CONFIG_FLAGS);
    const config = loadConfig(env, argv);
    // Checked before the data dir is touched: a typo in a path must not leave a new instance behind.
    for (const [name, file] of [["MAILROOM_TLS_CERT", config.tlsCert], ["MAILROOM_TLS_KEY", config.tlsKey]] as const) {
      if (!file) continue;
      try {
        accessSync(file, constants.R_OK);
      } catch (err) {
        throw new StartupError(`cannot read ${name} ${file} (${(err as NodeJS.ErrnoException).code})`);
      }
    }
    const log = createLogger();
    const { database } = openDataDir(config, log);
    const deps = buildDeps(config, database, log, systemClock);
    let running;
    try {
      running = await startMailroom(deps);
    } catch (err) {
      database.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE") throw new StartupError(`port ${config.port} on ${config.host} is already in use`);
      if (code === "EACCES") throw new StartupError(`not allowed to listen on ${config.host}:${config.port}`);
      throw err;
    }
    // Seeded only once the ports are bound: a start that fails must not use up the one-time banner.
    const seeded = await firstRun(deps);
    if (seeded) announceFirstRun(seeded, config, log, env);
    log.info("server.started", { version: VERSION, url: running.http.url, port: running.http.port, config: redactedConfig(config) });
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        log.info("server.stopping", { signal });
        running.stop().then(resolve);
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
    });
    return 0;
  },
};
