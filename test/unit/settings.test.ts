import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { settings } from "@/db/schema";
import { getOrCreateSetting, linkSecret, prepareSettingWrite } from "@/db/settings";
import { tempDir } from "../harness";

const dir = tempDir();
const database = openDb(join(dir, "settings.db"));
runMigrations(database.db);
afterAll(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

const stored = () => database.db.select().from(settings).all();

test("getOrCreateSetting stores the first value and returns it from then on without making another", () => {
  let made = 0;
  const make = () => `value-${++made}`;
  expect(getOrCreateSetting(database.db, "session_secret", make)).toBe("value-1");
  expect(getOrCreateSetting(database.db, "session_secret", make)).toBe("value-1");
  expect(made).toBe(1);
  expect(stored()).toContainEqual({ key: "session_secret", value: "value-1" });
});

test("linkSecret: the configured secret wins; otherwise the stored one, created once", () => {
  expect(linkSecret({ db: database.db, config: { linkSecret: "from-env" } })).toBe("from-env");
  const secret = linkSecret({ db: database.db, config: {} });
  expect(secret).toMatch(/^[A-Za-z0-9]{48}$/);
  expect(stored()).toContainEqual({ key: "link_secret", value: secret });
  expect(linkSecret({ db: database.db, config: {} })).toBe(secret);
});

test("prepareSettingWrite upserts its key", () => {
  const write = prepareSettingWrite(database.raw, "healthz_probe");
  write("1");
  write("2");
  expect(stored().filter((row) => row.key === "healthz_probe")).toEqual([{ key: "healthz_probe", value: "2" }]);
});
