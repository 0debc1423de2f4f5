/**
 * Segment count bench: N subscribers (default 1,000,000) in a temp SQLite file, then the time of
 * one COUNT over several 3-rule segments compiled by compileSegment (median of --runs).
 * Target: a 3-rule segment count over 1M subscribers ≤ 1 s.
 * Usage: bun bench/segments.ts [--n 1000000] [--runs 5] [--keep]
 */
import { parseArgs } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count } from "drizzle-orm";
import { openDb } from "../src/db/client";
import { runMigrations } from "../src/db/migrate";
import { subscribers } from "../src/db/schema";
import { compileSegment } from "../src/features/segments/compile";
import type { GroupDef, RuleDef, RuleType } from "../src/features/segments/rules";

const { values: a } = parseArgs({
  options: { n: { type: "string", default: "1000000" }, runs: { type: "string", default: "5" }, keep: { type: "boolean", default: false } },
});
const N = Number(a.n);
const RUNS = Number(a.runs);
const DAY = 86_400_000;
const NOW = Date.now();

const dir = mkdtempSync(join(tmpdir(), "mailroom-bench-segments-"));
const database = openDb(join(dir, "bench.db"));
runMigrations(database.db);
const raw = database.raw;
raw.prepare("INSERT INTO channels (name, slug, created_at, updated_at) VALUES ('Bench', 'bench', ?, ?)").run(NOW, NOW);

// Deterministic data: ~10% tagged vip, ~30% news; plan/score custom data; spread dates and counters.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const PLANS = ["free", "pro", "team"];
const t0 = performance.now();
const insert = raw.prepare(
  `INSERT INTO subscribers (channel_id, email, first_name, last_name, is_active, source, subscribed_at, total_emails_sent, total_emails_opened,
     total_emails_clicked, last_email_opened_at, tags, custom_data, created_at, updated_at)
   VALUES (1, ?, ?, ?, ?, 'import', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
);
const insertTag = raw.prepare("INSERT INTO subscriber_tags (subscriber_id, channel_id, tag) VALUES (?, 1, ?)");
const BATCH = 20_000;
for (let start = 0; start < N; start += BATCH) {
  raw.exec("BEGIN");
  for (let i = start; i < Math.min(N, start + BATCH); i++) {
    const tags = [...(rand() < 0.1 ? ["vip"] : []), ...(rand() < 0.3 ? ["news"] : [])];
    const created = NOW - Math.floor(rand() * 730) * DAY;
    const opened = rand() < 0.6 ? Math.floor(rand() * 20) : 0;
    const custom = JSON.stringify({ plan: PLANS[Math.floor(rand() * 3)], score: Math.floor(rand() * 100) });
    const { lastInsertRowid } = insert.run(
      `user${i}@${rand() < 0.4 ? "gmail.com" : "example.com"}`,
      `First${i % 997}`,
      `Last${i % 991}`,
      rand() < 0.9 ? 1 : 0,
      created,
      Math.floor(rand() * 50),
      opened,
      opened ? Math.floor(rand() * 3) : 0,
      opened ? NOW - Math.floor(rand() * 200) * DAY : null,
      JSON.stringify(tags),
      custom,
      created,
      created,
    );
    for (const tag of tags) insertTag.run(Number(lastInsertRowid), tag);
  }
  raw.exec("COMMIT");
}
raw.exec("ANALYZE");
console.log(`seeded ${N.toLocaleString()} subscribers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const r = (field: string, operator: string, value: string | null, rule_type: RuleType, extra: Partial<RuleDef> = {}): RuleDef => ({
  field,
  operator,
  value,
  secondary_value: null,
  rule_type,
  value_type: "string",
  is_negative: false,
  case_sensitive: false,
  ...extra,
});
const CASES: [string, GroupDef[]][] = [
  [
    "tags contains vip AND opened > 3 AND created within 365 days",
    [{ match_type: "all", rules: [r("tags", "contains", "vip", "array"), r("total_emails_opened", "greater_than", "3", "number"), r("created_at", "within_last_days", "365", "date")] }],
  ],
  [
    "email contains gmail AND is_active AND custom plan = pro",
    [{ match_type: "all", rules: [r("email", "contains", "gmail", "text"), r("is_active", "is_true", null, "boolean"), r("custom_data.plan", "equals", "pro", "text")] }],
  ],
  [
    "custom score >= 50 AND not tagged news AND opened within 30 days",
    [
      {
        match_type: "all",
        rules: [r("custom_data.score", "greater_than_or_equal", "50", "number"), r("tags", "not_contains", "news", "array"), r("last_email_opened_at", "within_last_days", "30", "date")],
      },
    ],
  ],
  [
    "any of: first_name starts_with First1, vip, clicked (OR group)",
    [{ match_type: "any", rules: [r("first_name", "starts_with", "First1", "text"), r("tags", "contains", "vip", "array"), r("has_clicked_any_email", "is_true", null, "boolean")] }],
  ],
  ["every subscriber (no rules)", []],
];

const rows: string[][] = [];
for (const [name, groups] of CASES) {
  const where = compileSegment(groups, { channelId: 1, now: NOW });
  const times: number[] = [];
  let n = 0;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    n = database.db.select({ n: count() }).from(subscribers).where(where).get()!.n;
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  rows.push([name, n.toLocaleString(), `${times[Math.floor(times.length / 2)].toFixed(0)} ms`, `${times[0].toFixed(0)} ms`]);
}
const widths = [0, 1, 2, 3].map((c) => Math.max(...[["segment", "matches", "median", "min"], ...rows].map((row) => row[c].length)));
for (const row of [["segment", "matches", "median", "min"], ...rows]) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join("  "));

database.close();
if (!a.keep) rmSync(dir, { recursive: true, force: true });
else console.log(`kept ${dir}`);
