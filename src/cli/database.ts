/** `mailroom migrate`, `mailroom backup FILE`, `mailroom version`. */
import { closeSync, openSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { openDataDir } from "@/boot";
import { loadConfig } from "@/config";
import { schemaVersion } from "@/db/migrate";
import { VERSION } from "@/version";
import { DATA_DIR_OPTION, dataDirArgv, parse, UsageError, type Command } from "./args";

export const migrate: Command = {
  usage: `mailroom migrate [--data-dir DIR]
  Applies pending database migrations and lists them (serve also does this at start-up).`,
  async run(argv, env) {
    const { values } = parse(argv, { ...DATA_DIR_OPTION });
    const { database, applied } = openDataDir(loadConfig(env, dataDirArgv(values)));
    database.close();
    console.log(applied.length ? `Applied: ${applied.join(", ")}` : `Up to date (schema ${schemaVersion()}).`);
    return 0;
  },
};

export const backup: Command = {
  usage: `mailroom backup FILE [--data-dir DIR]
  Writes a consistent copy of the database to FILE (safe while the server runs). Refuses to overwrite.`,
  async run(argv, env) {
    const { values, positionals } = parse(argv, { ...DATA_DIR_OPTION }, 1);
    if (!positionals[0]) throw new UsageError("give the backup FILE");
    const file = resolve(positionals[0]);
    const { database } = openDataDir(loadConfig(env, dataDirArgv(values)), undefined, { mustExist: true });
    try {
      // Created exclusively and owner-only first (VACUUM INTO accepts an empty file): the copy holds
      // password and token hashes and the link-signing secret, so it gets the data dir's privacy.
      try {
        closeSync(openSync(file, "wx", 0o600));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        console.error(`mailroom: ${file} already exists; choose a new file`);
        return 1;
      }
      try {
        database.raw.prepare("VACUUM INTO ?").run(file);
      } catch (err) {
        rmSync(file, { force: true });
        throw err;
      }
    } finally {
      database.close();
    }
    console.log(`Backup written to ${file}`);
    return 0;
  },
};

export const version: Command = {
  usage: `mailroom version
  Prints the version and the schema version.`,
  async run(argv) {
    parse(argv, {});
    console.log(`mailroom ${VERSION} (schema ${schemaVersion()})`);
    return 0;
  },
};
