/**
 * Start-up steps shared by `serve`, the other CLI commands and the test harness: open the data
 * dir and database (migrated), build deps, and seed a fresh instance on first run.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { AuthCache } from "./auth/cache";
import { Authenticator } from "./auth/authenticator";
import { UsageRecorder } from "./auth/usage";
import type { Config } from "./config";
import { openDb, type Database, type Db } from "./db/client";
import { GroupCommit } from "./db/group-commit";
import { runMigrations } from "./db/migrate";
import { admin_users, channels } from "./db/schema";
import { getOrCreateSetting, newLinkSecret } from "./db/settings";
import { hashPassword, normalizeLogin } from "./admin/users";
import type { Deps } from "./deps";
import { createToken } from "./features/access_tokens/service";
import { SYSTEM_ACTOR } from "./features/audit_log/service";
import { StartupError } from "./lib/errors";
import type { Logger } from "./lib/log";
import { References } from "./lib/references";
import type { Clock } from "./lib/time";
import { randomBase62 } from "./lib/tokens";
import { Metrics } from "./metrics/metrics";
import { Outbox } from "./outbox/outbox";
import { openMessagesUsingTemplate } from "./outbox/references";
import { broadcastsUsingSegment } from "./features/broadcasts/references";
import { formsUsingTemplate } from "./features/opt_in_forms/service";
import { sequencesUsingSegment, stepsUsingTemplate } from "./features/sequences/service";
import { sequenceHooks } from "./features/sequences/hooks";
import { SmtpTransport } from "./outbox/transport-smtp";

export const databasePath = (config: Pick<Config, "dataDir">) => join(config.dataDir, "mailroom.db");

/**
 * Opens (creating the dir if needed, unless `mustExist`) and migrates the database of the data dir.
 * @throws StartupError naming the problem; nothing is overwritten or deleted.
 */
export function openDataDir(
  config: Pick<Config, "dataDir">,
  log?: Logger,
  options: { mustExist?: boolean } = {},
): { database: Database; applied: string[] } {
  const dir = config.dataDir;
  // Commands that work on an existing instance must not create an empty one at a mistyped path.
  if (options.mustExist && !existsSync(databasePath(config))) {
    throw new StartupError(`no Mailroom database in ${dir} (start the server once with this data dir, or pass --data-dir)`);
  }
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new StartupError(`data dir ${dir} is not a directory`);
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    if (err instanceof StartupError) throw err;
    throw new StartupError(`data dir ${dir} is not usable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (it must be a readable and writable directory)`);
  }
  let database: Database;
  try {
    database = openDb(databasePath(config));
  } catch (err) {
    throw new StartupError(`cannot open ${databasePath(config)}: ${(err as Error).message}`);
  }
  try {
    const applied = runMigrations(database.db);
    if (applied.length) log?.info("db.migrated", { applied });
    return { database, applied };
  } catch (err) {
    database.close();
    throw new StartupError(`cannot migrate ${databasePath(config)}: ${(err as Error).message}`);
  }
}

/**
 * Which module references what: each holder of a reference registers its finder here, and the owning
 * feature asks before a delete.
 */
const references = () =>
  new References<Db>()
    .register("template", openMessagesUsingTemplate)
    .register("template", formsUsingTemplate)
    .register("template", stepsUsingTemplate)
    .register("segment", broadcastsUsingSegment)
    .register("segment", sequencesUsingSegment);

export function buildDeps(config: Readonly<Config>, database: Database, log: Logger, clock: Clock): Deps {
  const cache = new AuthCache(database);
  const metrics = new Metrics(database, clock);
  const auth = new Authenticator(config, clock, cache, new UsageRecorder(database.db), metrics);
  return { config, database, db: database.db, log, clock, auth, commits: new GroupCommit(database), outbox: new Outbox(database, config.publicUrl), transport: new SmtpTransport(), references: references(), metrics, subscriberHooks: sequenceHooks };
}

export interface FirstRun {
  adminEmail: string;
  /** Only when generated (not given by MAILROOM_ADMIN_PASSWORD). */
  adminPassword: string | null;
  token: string;
  tokenId: number;
}

/**
 * Seeds an empty instance: channel `default`, the admin user, the link secret and the
 * "Default transactional token" (seed 000). Returns null when already seeded.
 */
export async function firstRun(deps: Deps): Promise<FirstRun | null> {
  const { db, config, clock } = deps;
  if (db.select({ id: channels.id }).from(channels).limit(1).get()) return null;
  const password = config.adminPassword ?? randomBase62(20);
  const passwordHash = await hashPassword(password);
  const now = clock.now();
  const host = new URL(config.publicUrl).hostname;
  const senderEmail = config.senderEmail ?? `noreply@${host === "localhost" || /^[\d.]+$/.test(host) ? "localhost" : host}`;
  db.transaction((tx) => {
    tx.insert(channels)
      .values({ name: "Default", slug: "default", sender_email: senderEmail, sender_name: "Mailroom", is_default: true, created_at: now, updated_at: now })
      .run();
    tx.insert(admin_users).values({ email: normalizeLogin(config.adminEmail), password_hash: passwordHash, created_at: now, updated_at: now }).onConflictDoNothing().run();
    getOrCreateSetting(tx, "link_secret", newLinkSecret);
  });
  deps.auth.cache.invalidate();
  const { view, value } = createToken(deps, { principal: null, audit: { actor: SYSTEM_ACTOR } }, {
    name: "Default transactional token",
    preset: "transactional",
    scope: "channels",
    channels: ["default"],
  });
  return { adminEmail: config.adminEmail, adminPassword: config.adminPassword ? null : password, token: value, tokenId: view.row.id };
}

export function formatBanner(run: FirstRun, url: string): string {
  const rule = "=".repeat(72);
  return [
    rule,
    " Mailroom is set up. These values are shown ONCE — store them now.",
    rule,
    ` Dashboard: ${url}/admin   (reset the password with \`mailroom admin reset-password\`)`,
    `   email:          ${run.adminEmail}`,
    `   password:       ${run.adminPassword ?? "(from MAILROOM_ADMIN_PASSWORD)"}`,
    ` Default transactional token (transactionals_read + transactionals_write, channel "default"):`,
    `   ${run.token}`,
    ` Try it:  curl -H "Authorization: Bearer ${run.token}" ${url}/api/v1/whoami`,
    rule,
    "",
  ].join("\n");
}
