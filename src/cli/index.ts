/**
 * `mailroom <command> [flags]` (docs/api-reference.md §21). Exit codes: 0 ok, 1 failure, 2 usage.
 */
import { StartupError } from "@/lib/errors";
import { ConfigError } from "@/config";
import { AppError } from "@/lib/errors";
import { UsageError, type Command } from "./args";

// Commands are loaded on demand: `serve` pulls in the whole server, the others need a fraction of it.
const GROUPS: Record<string, () => Promise<Record<string, Command>>> = {
  token: async () => (await import("./token")).tokenCommands,
  admin: async () => (await import("./admin")).adminCommands,
};
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import("./serve")).serve,
  init: async () => (await import("./first-run")).init,
  migrate: async () => (await import("./database")).migrate,
  backup: async () => (await import("./database")).backup,
  version: async () => (await import("./database")).version,
};

const USAGE = `Usage: mailroom <command> [flags]

Commands:
  serve                       run the server (HTTP API, workers)
  init                        set up the data dir; on a new instance print the admin login and
                              default token once (run before a service's first start)
  token create|list|refresh|revoke
                              manage API access tokens
  admin reset-password EMAIL  set a dashboard admin's password
  migrate                     apply database migrations
  backup FILE                 write a consistent copy of the database
  version                     print version and schema version

Run "mailroom <command> --help" for a command's flags.`;

export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [name, sub, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  let command: Command | undefined;
  let args: string[];
  if (Object.hasOwn(GROUPS, name)) {
    const group = await GROUPS[name]();
    command = sub && Object.hasOwn(group, sub) ? group[sub] : undefined;
    args = rest;
    if (!command) {
      const names = Object.keys(group).join("|");
      if (sub === "--help" || sub === "-h") {
        console.log(`Usage: mailroom ${name} ${names} [flags]`);
        return 0;
      }
      console.error(`mailroom: unknown ${name} command${sub ? ` "${sub}"` : ""}; use: mailroom ${name} ${names}`);
      return 2;
    }
  } else {
    command = Object.hasOwn(COMMANDS, name) ? await COMMANDS[name]() : undefined;
    args = sub === undefined ? [] : [sub, ...rest];
  }
  if (!command) {
    console.error(`mailroom: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  if (args.includes("--help") || args.includes("-h")) {
    console.log(`Usage: ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(args, env);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      console.error(`mailroom: ${err.message}\nUsage: ${command.usage.split("\n")[0]}`);
      return 2;
    }
    if (err instanceof StartupError) {
      console.error(`mailroom: ${err.message}`);
      return 1;
    }
    if (err instanceof AppError) {
      console.error(`mailroom: ${err.details.message ?? err.publicMessage}`);
      return err.code === "unprocessable" ? 2 : 1;
    }
    console.error(`mailroom: ${(err as Error).message}`);
    return 1;
  }
}
