/**
 * Baseline for the delivery bench: a raw nodemailer pool (CONNECTIONS connections,
 * `maxMessages: Infinity`) sending COUNT 2 KB HTML messages to the sink at PORT, as fast as it can.
 * Prints {"ms": …, "cpuUs": …}: from the first send to the last acceptance, and this process's CPU time.
 */
import nodemailer from "nodemailer";
import { benchHtml } from "../payload";

const count = Number(process.env.COUNT ?? 10_000);
const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port: Number(process.env.PORT),
  secure: false,
  ignoreTLS: true,
  pool: true,
  maxConnections: Number(process.env.CONNECTIONS ?? 5),
  maxMessages: Infinity,
});
const t0 = performance.now();
await Promise.all(
  Array.from({ length: count }, (_, i) =>
    transport.sendMail({ from: "bench@example.com", to: `r${i}@example.com`, subject: `raw ${i}`, html: benchHtml(i), text: `raw ${i}` }),
  ),
);
const cpu = process.cpuUsage();
console.log(JSON.stringify({ ms: performance.now() - t0, cpuUs: cpu.user + cpu.system }));
transport.close();
