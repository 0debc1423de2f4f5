/**
 * Baseline for the delivery bench: a raw nodemailer pool (CONNECTIONS connections,
 * `maxMessages: Infinity`) sending COUNT messages to the sink at PORT, as fast as it can.
 * Default: 2 KB HTML messages, all handed to the pool at once. SHORT=1: the short message of a
 * fan-out row, INFLIGHT at a time (a steady stream, as a drain sends) — the RSS floor of a process
 * that sends mail at full speed with nodemailer and does nothing else.
 * Prints {"ms": …, "cpuUs": …, "maxRssMb": …}: from the first send to the last acceptance, this
 * process's CPU time, and its highest RSS (sampled every 100 ms).
 */
import nodemailer from "nodemailer";
import { rssMb } from "../lib";
import { benchHtml } from "../payload";

const count = Number(process.env.COUNT ?? 10_000);
const short = process.env.SHORT === "1";
const inflight = Number(process.env.INFLIGHT ?? count);
const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port: Number(process.env.PORT),
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections: Number(process.env.CONNECTIONS ?? 5),
  maxMessages: Infinity,
});
const message = (i: number) =>
  short
    ? { from: "bench@example.com", to: `bulk${i}@example.com`, subject: `bulk ${i}`, html: `<p>Hello bulk${i}@example.com</p>` }
    : { from: "bench@example.com", to: `r${i}@example.com`, subject: `raw ${i}`, html: benchHtml(i), text: `raw ${i}` };
let maxRssMb = rssMb(process.pid);
const sampler = setInterval(() => (maxRssMb = Math.max(maxRssMb, rssMb(process.pid))), 100);
const t0 = performance.now();
let next = 0;
const lane = async () => {
  while (next < count) await transport.sendMail(message(next++));
};
await Promise.all(Array.from({ length: Math.min(inflight, count) }, lane));
clearInterval(sampler);
const cpu = process.cpuUsage();
console.log(JSON.stringify({ ms: performance.now() - t0, cpuUs: cpu.user + cpu.system, maxRssMb }));
transport.close();
