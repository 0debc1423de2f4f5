/**
 * Inbound DSN processing of dist/mailroom (issue 17 goal: ≥ 500 messages/s on 2 cores, whoami p99
 * ≤ 1.5 × idle): transactionals are sent (to local capture) with VERP on, then one Postfix-shaped
 * DSN (Action: failed, 5.1.1) per message comes back over SMTP to the inbound listener from
 * CONNECTIONS pooled connections — parse, classify, hard bounce applied (message, suppression,
 * events) and stored. Same run: ROUNDS of whoami p99 idle, then while DSNs arrive at RATE per
 * second (idle and busy alternate, and the medians are compared: one 5 s p99 of an idle server
 * varies 2–4 ms between runs), then COUNT DSNs as fast as the listener takes them (capacity).
 * Client and server share the 2 cores.
 * Usage: bun bench/inbound.ts [--count 5000] [--rate 500] [--connections 8] [--rounds 3] [--json]
 */
import { parseArgs } from "node:util";
import nodemailer from "nodemailer";
import { signedReturnPath } from "../src/features/bounces/verp";
import { HOST, MAILROOM_BIN, cpuUs, fmt, freePort, sleep, startMailroom, median, table, tmp, waitQuiet, wrk } from "./lib";

const { values: a } = parseArgs({
  options: { count: { type: "string", default: "5000" }, rate: { type: "string", default: "500" }, connections: { type: "string", default: "8" }, rounds: { type: "string", default: "3" }, json: { type: "boolean", default: false } },
});
const COUNT = Number(a.count);
const RATE = Number(a.rate);
/** DSNs sent at RATE while whoami is measured (5 s), with a second of margin on each side. */
const PACED = RATE * 7;
const ROUNDS = Number(a.rounds);
const CONNECTIONS = Number(a.connections);
const DOMAIN = "bounce.bench.example";
const SECRET = "bench-link-secret-0123456789abcdef";
const log = (s: string) => process.stderr.write(`[inbound] ${s}\n`);

/** A DSN as Postfix lays it out (RFC 3464): human part, delivery-status, the original headers. */
const dsn = (returnPath: string, to: string) =>
  [
    "From: MAILER-DAEMON@mx.bench.example (Mail Delivery System)",
    `To: ${returnPath}`,
    "Subject: Undelivered Mail Returned to Sender",
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    "",
    "--B",
    "Content-Type: text/plain",
    "",
    "I'm sorry to have to inform you that your message could not be delivered.",
    "--B",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.bench.example",
    "",
    `Final-Recipient: rfc822; ${to}`,
    "Action: failed",
    "Status: 5.1.1",
    `Diagnostic-Code: smtp; 550 5.1.1 <${to}>: Recipient address rejected: User unknown`,
    "--B",
    "Content-Type: text/rfc822-headers",
    "",
    `Return-Path: <${returnPath}>`,
    `To: ${to}`,
    "Subject: Receipt",
    "--B--",
    "",
  ].join("\r\n");

const inboundPort = await freePort();
const server = await startMailroom(tmp("inbound"), {
  MAILROOM_BOUNCE_DOMAIN: DOMAIN,
  MAILROOM_INBOUND_HOST: HOST,
  MAILROOM_INBOUND_PORT: String(inboundPort),
  MAILROOM_LINK_SECRET: SECRET,
  MAILROOM_CAPTURE_MAX: String((ROUNDS * PACED + COUNT) * 2),
});
try {
  const created = Bun.spawnSync([MAILROOM_BIN, "token", "create", "--name", "bench", "--preset", "all", "--scope", "all", "--json", "--data-dir", server.dataDir!]);
  const token = JSON.parse(created.stdout.toString()).token as string;
  const base = `http://${HOST}:${server.port}/api/v1`;
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  for (let i = 0; i < 500 && (await fetch(`${base}/channels/default`, { headers })).status !== 200; i++) await sleep(10);

  log(`sending ${ROUNDS * PACED + COUNT} transactionals to capture …`);
  const sent: { id: number; to: string }[] = [];
  for (let start = 0; start < ROUNDS * PACED + COUNT; start += 32) {
    const batch = Array.from({ length: Math.min(32, ROUNDS * PACED + COUNT - start) }, (_, i) => `reader${start + i}@bench.example`);
    const ids = await Promise.all(
      batch.map(async (to) => {
        const res = await fetch(`${base}/transactionals`, { method: "POST", headers, body: JSON.stringify({ to, subject: "Receipt", body: "<p>Thanks</p>" }) });
        if (res.status !== 201) throw new Error(`send → ${res.status} ${await res.text()}`);
        return ((await res.json()) as { id: number }).id;
      }),
    );
    ids.forEach((id, i) => sent.push({ id, to: batch[i]! }));
  }
  const last = sent[sent.length - 1]!.id;
  for (let i = 0; i < 6000; i++) {
    const status = ((await (await fetch(`${base}/transactionals/${last}`, { headers })).json()) as { status: string }).status;
    if (status === "sent") break;
    await sleep(50);
  }

  await waitQuiet(server.pid); // capture and the events of the sends finish first
  const o = { threads: 1, connections: 16, seconds: 5, warmupSeconds: 0 };
  const auth = { authorization: `Bearer ${token}` };
  await wrk(`${base}/whoami`, auth, 5, o); // warm-up: JIT, caches and the heap after the sends, not measured

  const client = nodemailer.createTransport({ host: HOST, port: inboundPort, secure: false, ignoreTLS: true, pool: true, maxConnections: CONNECTIONS, maxMessages: 100 });
  let refused = 0;
  /** Sends the DSNs of sent[from, to), at most `perSecond` (Infinity: as fast as accepted); resolves with the ms taken. */
  async function dsns(from: number, to: number, perSecond: number): Promise<number> {
    let next = from;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS * 2 }, async () => {
        for (let i = next++; i < to; i = next++) {
          const due = t0 + ((i - from) / perSecond) * 1000;
          if (due > performance.now()) await sleep(due - performance.now());
          const { id, to: recipient } = sent[i]!;
          const returnPath = signedReturnPath(SECRET, DOMAIN, id);
          try {
            await client.sendMail({ envelope: { from: "", to: [returnPath] }, raw: dsn(returnPath, recipient) });
          } catch {
            refused++;
          }
        }
      }),
    );
    return performance.now() - t0;
  }

  const received = async () => ((await (await fetch(`${base}/inbound_messages?per_page=1`, { headers })).json()) as { pagination: { total: number } }).pagination.total;
  const idleRuns: number[] = [];
  const busyRuns: number[] = [];
  let pacedMs = 0;
  let duringWhoami = 0;
  /** This process (the DSN client standing in for remote MTAs) competes with the API for the 2 cores. */
  let clientCpuPct = 0;
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1}/${ROUNDS}: whoami idle, then during ${PACED} DSNs at ${RATE}/s …`);
    await waitQuiet(server.pid); // the previous round's DSNs are recorded: idle means idle
    idleRuns.push((await wrk(`${base}/whoami`, auth, 5, o)).p99Us);
    const paced = dsns(round * PACED, (round + 1) * PACED, RATE);
    await sleep(1000);
    const before = await received();
    const client0 = process.cpuUsage();
    busyRuns.push((await wrk(`${base}/whoami`, auth, 5, o)).p99Us);
    const client1 = process.cpuUsage();
    clientCpuPct += (client1.user + client1.system - client0.user - client0.system) / (o.seconds * 1e6) / ROUNDS * 100;
    duringWhoami += ((await received()) - before) / o.seconds / ROUNDS;
    pacedMs += await paced;
  }
  const [idleP99, busyP99] = [median(idleRuns), median(busyRuns)];
  log(`${COUNT} DSNs as fast as they are taken, over ${CONNECTIONS} connections …`);
  const [cpu0, mainCpu0] = [cpuUs(server.pid), cpuUs(server.pid, server.pid)];
  const floodMs = await dsns(ROUNDS * PACED, ROUNDS * PACED + COUNT, Infinity);
  // What each DSN costs the server, and how much of it the API's (main) thread pays.
  const cpuPerDsn = (cpuUs(server.pid) - cpu0) / COUNT;
  const mainCpuPerDsn = (cpuUs(server.pid, server.pid) - mainCpu0) / COUNT;
  client.close();

  const applied = ((await (await fetch(`${base}/inbound_messages?result=applied&per_page=1`, { headers })).json()) as { pagination: { total: number } }).pagination.total;
  const results = {
    dsn_per_s: COUNT / (floodMs / 1000),
    paced_per_s: (ROUNDS * PACED) / (pacedMs / 1000),
    during_whoami_per_s: duringWhoami,
    refused,
    applied,
    cpu_us_per_dsn: cpuPerDsn,
    main_thread_cpu_us_per_dsn: mainCpuPerDsn,
    whoami_idle_p99_us: idleP99,
    whoami_busy_p99_us: busyP99,
    whoami_idle_p99_runs_us: idleRuns,
    whoami_busy_p99_runs_us: busyRuns,
    whoami_ratio: busyP99 / idleP99,
    client_cpu_pct_during_busy: clientCpuPct,
  };
  if (a.json) console.log(JSON.stringify({ count: COUNT, rate: RATE, connections: CONNECTIONS, ...results }));
  else {
    console.log(
      table([
        ["inbound DSNs (hard bounces applied)", "value", "target"],
        [`DSNs processed per second (${fmt.int(COUNT)}, ${CONNECTIONS} connections)`, fmt.int(results.dsn_per_s), "≥ 500"],
        ["server CPU per DSN: all threads / the API's thread", `${Math.round(cpuPerDsn)} / ${Math.round(mainCpuPerDsn)} µs`, ""],
        ["applied / refused", `${fmt.int(applied)} / ${fmt.int(refused)}`, `${fmt.int(ROUNDS * PACED + COUNT)} / 0`],
        [`whoami p99 idle (median of ${ROUNDS}: ${idleRuns.map(fmt.us).join(", ")})`, fmt.us(idleP99), ""],
        [`whoami p99 while DSNs are sent at ${fmt.int(RATE)}/s (taken: ${fmt.int(duringWhoami)}/s during the run, ${fmt.int(results.paced_per_s)}/s overall)`, fmt.us(busyP99), ""],
        [`  the ${ROUNDS} busy runs`, busyRuns.map(fmt.us).join(", "), ""],
        ["  CPU of the DSN client (this process, on the same cores) during them", `${fmt.f1(clientCpuPct)} % of a core`, ""],
        ["busy / idle", results.whoami_ratio.toFixed(2), "≤ 1.5"],
      ]),
    );
  }
} finally {
  await server.stop();
}
