/** Small helpers shared by the CLI commands: usage errors and option parsing. */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Wrong flags or arguments: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

export interface Command {
  usage: string;
  run(argv: string[], env: Record<string, string | undefined>): Promise<number>;
}

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T, positionals = 0) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: positionals > 0 });
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument: ${parsed.positionals[positionals]}`);
    return parsed;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
}

export const DATA_DIR_OPTION = { "data-dir": { type: "string" } } as const;

/** Config argv for the data dir flag (other commands accept only --data-dir besides env). */
export const dataDirArgv = (values: { "data-dir"?: string }) => (values["data-dir"] ? ["--data-dir", values["data-dir"]] : []);
