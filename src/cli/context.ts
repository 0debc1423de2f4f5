/** Opens the data dir for a CLI command (not serve): config, database, deps with a quiet logger. */
import { buildDeps, openDataDir } from "@/boot";
import { loadConfig } from "@/config";
import type { Deps } from "@/deps";
import { createLogger } from "@/lib/log";
import { systemClock } from "@/lib/time";
import { CLI_ACTOR } from "@/features/audit_log/service";

export function openCliDeps(env: Record<string, string | undefined>, configArgv: string[]): Deps {
  const config = loadConfig(env, configArgv);
  const log = createLogger((chunk) => process.stderr.write(chunk));
  const { database } = openDataDir(config, undefined, { mustExist: true });
  return buildDeps(config, database, log, systemClock);
}

export const CLI_TOKEN_ACTOR = { principal: null, audit: { actor: CLI_ACTOR } };

export function closeCliDeps(deps: Deps): void {
  deps.auth.usage.flush();
  deps.database.close();
}
