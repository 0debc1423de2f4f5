/**
 * The `settings` table: instance-wide values generated once (the link secret, the dashboard's
 * session key) and the health probe's row. The one module that reads or writes it, so the layers
 * above (lib helpers, the dashboard, /healthz) never hold SQL of their own for it.
 */
import { eq } from "drizzle-orm";
import { randomBase62 } from "@/lib/tokens";
import type { Db, RawDb } from "./client";
import { settings } from "./schema";

export type SettingKey = "link_secret" | "session_secret" | "healthz_probe" | "webhooks_dispatch_position";

/**
 * The value of `key`, stored as `make()` when absent. Reads first, so a present value costs no write
 * (and still answers on a full or read-only disk); concurrent creators agree on the first insert.
 */
export function getOrCreateSetting(db: Db, key: SettingKey, make: () => string): string {
  const read = () => db.select({ value: settings.value }).from(settings).where(eq(settings.key, key)).get()?.value;
  const existing = read();
  if (existing !== undefined) return existing;
  db.insert(settings).values({ key, value: make() }).onConflictDoNothing().run();
  return read()!;
}

/** A prepared UPSERT of `key`: the health probe writes one row for real, up to once a second. */
export function prepareSettingWrite(raw: RawDb, key: SettingKey): (value: string) => void {
  const upsert = raw.prepare("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  return (value) => void upsert.run(key, value);
}

export const newLinkSecret = () => randomBase62(48);

const linkSecrets = new WeakMap<Db, string>();

/**
 * The secret that signs links and the capture header (docs/api-reference.md §16, §18):
 * MAILROOM_LINK_SECRET, else the `link_secret` setting (created here if a pre-seeded database lacks
 * it). Cached per database handle.
 */
export function linkSecret(deps: { db: Db; config: { linkSecret?: string | undefined } }): string {
  if (deps.config.linkSecret) return deps.config.linkSecret;
  let secret = linkSecrets.get(deps.db);
  if (secret === undefined) linkSecrets.set(deps.db, (secret = getOrCreateSetting(deps.db, "link_secret", newLinkSecret)));
  return secret;
}
