/**
 * Audience bench (subscribers): seeds a temp data dir with N subscribers in one channel (direct
 * prepared INSERTs in big transactions; triggers keep subscriber_counts), then measures through the
 * real HTTP server: a list page of 250 with totals, find by email, and a bulk import of 100,000 new
 * rows in 10 calls. Prints median / p95 against the targets.
 * Usage: bun bench/audience.ts [--rows 1000000] [--samples 50] [--import-calls 10] [--json]
 */
import { parseArgs } from "node:util";
import { startTestServer } from "../test/harness";
import { fmt, median, table } from "./lib";

const { values: a } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    samples: { type: "string", default: "50" },
    "import-calls": { type: "string", default: "10" },
    json: { type: "boolean", default: false },
  },
});
const ROWS = Number(a.rows);
const SAMPLES = Number(a.samples);
const IMPORT_CALLS = Number(a["import-calls"]);
const IMPORT_ROWS_PER_CALL = 10_000;

const p95 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]!;
const log = (msg: string) => console.error(`[audience] ${msg}`);

const server = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0", MAILROOM_LOG_LEVEL: "error" } });
try {
  const raw = server.deps.database.raw;
  const t0 = performance.now();
  const insert = raw.prepare(
    "INSERT INTO subscribers (channel_id, email, first_name, last_name, is_active, source, subscribed_at, tags, custom_data, created_at, updated_at) VALUES (1, ?, ?, ?, 1, 'import', ?, ?, ?, ?, ?)",
  );
  const tag = raw.prepare("INSERT INTO subscriber_tags (subscriber_id, channel_id, tag) VALUES (?, 1, ?)");
  const now = Date.now();
  const BATCH = 100_000;
  for (let start = 0; start < ROWS; start += BATCH) {
    raw.exec("BEGIN");
    for (let i = start; i < Math.min(ROWS, start + BATCH); i++) {
      const t = i % 10 === 0 ? "vip" : "newsletter";
      const r = insert.run(`user${i}@example${i % 97}.com`, "Ada", "Lovelace", now, JSON.stringify([t]), `{"plan":"${i % 3 ? "free" : "pro"}","n":${i}}`, now, now);
      tag.run(Number(r.lastInsertRowid), t);
    }
    raw.exec("COMMIT");
  }
  raw.exec("ANALYZE");
  log(`seeded ${fmt.int(ROWS)} subscribers in ${(performance.now() - t0).toFixed(0)} ms`);

  const timed = async (path: string, init?: RequestInit) => {
    const s = performance.now();
    const res = await fetch(server.url + path, { ...init, headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json", ...init?.headers } });
    const body = await res.text();
    const ms = performance.now() - s;
    if (res.status !== 200) throw new Error(`${path} → ${res.status} ${body.slice(0, 200)}`);
    return { ms, body };
  };
  const sample = async (n: number, path: (i: number) => string) => {
    for (let i = 0; i < 5; i++) await timed(path(i)); // warm-up
    const xs: number[] = [];
    for (let i = 0; i < n; i++) xs.push((await timed(path(i))).ms);
    return xs;
  };

  const rows: { name: string; xs: number[]; target: number | null; unit: "ms" }[] = [];
  const first = JSON.parse((await timed("/api/v1/subscribers?per_page=250")).body);
  if (first.pagination.total !== ROWS || first.subscribers.length !== Math.min(250, ROWS)) throw new Error("list returned the wrong page");
  rows.push({ name: "list page 1 (250 rows + totals)", xs: await sample(SAMPLES, () => "/api/v1/subscribers?per_page=250"), target: 10, unit: "ms" });
  rows.push({ name: "list page at 50% offset (info)", xs: await sample(Math.min(SAMPLES, 20), () => `/api/v1/subscribers?per_page=250&page=${Math.max(1, Math.floor(ROWS / 500))}`), target: null, unit: "ms" });
  rows.push({ name: "list tags[]=vip page 1 (info)", xs: await sample(Math.min(SAMPLES, 20), () => "/api/v1/subscribers?per_page=250&tags[]=vip"), target: null, unit: "ms" });
  rows.push({
    name: "find by email",
    xs: await sample(SAMPLES * 4, (i) => {
      const n = (i * 7919) % ROWS;
      return `/api/v1/subscribers/find?email=user${n}@example${n % 97}.com`;
    }),
    target: 1,
    unit: "ms",
  });

  const calls: number[] = [];
  for (let c = 0; c < IMPORT_CALLS; c++) {
    const subscribers = Array.from({ length: IMPORT_ROWS_PER_CALL }, (_, i) => ({
      email: `imported${c}-${i}@bulk.example`, first_name: "Imp", tags: ["imported"], custom_data: { batch: c },
    }));
    const { ms, body } = await timed("/api/v1/subscribers/bulk", { method: "POST", body: JSON.stringify({ subscribers }) });
    const result = JSON.parse(body);
    if (result.created !== IMPORT_ROWS_PER_CALL) throw new Error(`bulk call ${c} created ${result.created}`);
    calls.push(ms);
  }
  const importTotal = calls.reduce((x, y) => x + y, 0);

  const out = [
    ...rows.map((r) => ({ name: r.name, median: median(r.xs), p95: p95(r.xs), target: r.target })),
    { name: `bulk import ${fmt.int(IMPORT_CALLS * IMPORT_ROWS_PER_CALL)} rows (${IMPORT_CALLS} calls), total`, median: importTotal, p95: importTotal, target: IMPORT_CALLS === 10 ? 10_000 : null },
    { name: "bulk import, per 10k-row call (info)", median: median(calls), p95: p95(calls), target: null },
  ];
  if (a.json) console.log(JSON.stringify({ rows: ROWS, results: out }, null, 2));
  else {
    console.log(`\nAudience bench — ${fmt.int(ROWS)} subscribers in one channel, in-process server over HTTP (loopback)\n`);
    console.log(
      table([
        ["measure", "median", "p95", "target", "result"],
        ...out.map((r) => [r.name, `${r.median.toFixed(2)} ms`, `${r.p95.toFixed(2)} ms`, r.target === null ? "-" : `≤ ${r.target} ms`, r.target === null ? "-" : r.median <= r.target ? "pass" : "FAIL"]),
      ]),
    );
  }
} finally {
  await server.stop();
}
