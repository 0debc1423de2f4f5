// Run under Node (node --import tsx --import ./test/node/text-loader.mjs): opens a Mailroom database with the same DB module as the
// server (better-sqlite3 driver), applies the embedded migrations and reads/writes through drizzle.
import { openDb } from "../../src/db/client";
import { runMigrations } from "../../src/db/migrate";
import { settings } from "../../src/db/schema";

const database = openDb(process.argv[2]);
const applied = runMigrations(database.db);
database.db.insert(settings).values({ key: "written_by", value: "node" }).onConflictDoNothing().run();
const rows = database.db.select().from(settings).all();
const journal = database.raw.prepare("PRAGMA journal_mode").get();
console.log(JSON.stringify({ driver: database.driver, applied: applied.length, rows, journal }));
database.close();
