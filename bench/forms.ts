/**
 * Hosted opt-in form submissions against dist/mailroom (issue 16 goal: ≥ 500/s from distinct IPs on
 * 2 cores): COUNT urlencoded posts, each from its own client address (X-Forwarded-For through a
 * trusted proxy), CONCURRENCY in flight, to a plain form and to a double opt-in form (each
 * submission also queues a confirmation email; capture is off, so it stays queued). Client and
 * server share the machine's cores. Usage: bun bench/forms.ts [--count 5000] [--concurrency 32] [--json]
 */
import { parseArgs } from "node:util";
import { HOST, MAILROOM_BIN, fmt, sleep, startMailroom, table, tmp } from "./lib";

const { values: a } = parseArgs({ options: { count: { type: "string", default: "5000" }, concurrency: { type: "string", default: "32" }, json: { type: "boolean", default: false } } });
const COUNT = Number(a.count);
const CONCURRENCY = Number(a.concurrency);
const log = (s: string) => process.stderr.write(`[forms] ${s}\n`);

const server = await startMailroom(tmp("forms"), { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32", MAILROOM_CAPTURE: "0", MAILROOM_LOG_LEVEL: "error" });
try {
  const created = Bun.spawnSync([MAILROOM_BIN, "token", "create", "--name", "bench", "--preset", "all", "--scope", "all", "--json", "--data-dir", server.dataDir!]);
  const token = JSON.parse(created.stdout.toString()).token as string;
  const base = `http://${HOST}:${server.port}`;
  const api = async (path: string, body: unknown) => {
    const res = await fetch(`${base}/api/v1${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${path} → ${res.status} ${await res.text()}`);
    return res.json() as Promise<{ identifier: string }>;
  };
  // /healthz answers before a fresh instance has seeded its default channel: wait for it.
  for (let i = 0; i < 500 && (await fetch(`${base}/api/v1/channels/default`, { headers: { authorization: `Bearer ${token}` } })).status !== 200; i++) await sleep(10);
  const channel = "default";
  const blocks = [{ block_type: "input_field", input_field_value_type: "email" }, { block_type: "input_field", input_field_value_type: "name" }];
  const plain = await api("/opt_in_forms", { channel, opt_in_form: { label: "Plain", opt_in_form_blocks: blocks, automation_settings: { tag_list: "bench" } } });
  const doi = await api("/opt_in_forms", { channel, opt_in_form: { label: "DOI", opt_in_form_blocks: blocks, automation_settings: { tag_list: "bench", double_opt_in: true } } });

  /** COUNT posts to the form, each from address 10.x.y.z; returns submissions per second. */
  async function run(identifier: string, prefix: string) {
    let next = 0;
    let failed = 0;
    const t0 = performance.now();
    const worker = async () => {
      for (let i = next++; i < COUNT; i = next++) {
        const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        const res = await fetch(`${base}/f/${identifier}`, {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": ip },
          body: `email=${prefix}${i}%40example.com&name=Reader+${i}`,
        });
        await res.arrayBuffer();
        if (res.status !== 303) failed++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - t0) / 1000;
    if (failed) throw new Error(`${failed} of ${COUNT} submissions failed`);
    return COUNT / seconds;
  }

  const results = { plain_per_s: await run(plain.identifier, "p"), doi_per_s: await run(doi.identifier, "d") };
  log(`${fmt.int(COUNT)} submissions each, ${CONCURRENCY} in flight`);
  if (a.json) console.log(JSON.stringify({ count: COUNT, concurrency: CONCURRENCY, ...results }));
  else {
    console.log(
      table([
        ["form submissions (distinct IPs)", "per second", "target"],
        ["plain form (subscriber upsert + tags)", fmt.int(results.plain_per_s), "≥ 500"],
        ["double opt-in form (+ confirmation email queued)", fmt.int(results.doi_per_s), "≥ 500"],
      ]),
    );
  }
} finally {
  await server.stop();
}
