/**
 * An smtp-server sink for the delivery bench: accepts everything (no auth, no TLS), counts messages,
 * and remembers when each message whose Subject starts with "lat-" arrived. Optional per-message
 * delay (DELAY_MS) makes it a slow next hop. Stats over HTTP on STATS_PORT: GET /stats.
 * Env: PORT (SMTP), STATS_PORT, DELAY_MS.
 */
import { SMTPServer } from "smtp-server";

const delayMs = Number(process.env.DELAY_MS ?? 0);
let count = 0;
let firstAt = 0;
let lastAt = 0;
const arrivals: Record<string, number> = {};

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["AUTH", "STARTTLS"],
  logger: false,
  size: 30 * 1024 * 1024,
  maxClients: 200,
  onData(stream, _session, callback) {
    let head = "";
    stream.on("data", (chunk: Buffer) => {
      if (head.length < 4096) head += chunk.toString("latin1");
    });
    stream.on("end", () => {
      const done = () => {
        const now = Date.now();
        count++;
        firstAt ||= now;
        lastAt = now;
        const subject = head.match(/^Subject: (lat-[^\r\n]+)/m)?.[1];
        if (subject) arrivals[subject] = now;
        callback();
      };
      if (delayMs) setTimeout(done, delayMs);
      else done();
    });
  },
});
server.listen(Number(process.env.PORT), "127.0.0.1");

Bun.serve({
  port: Number(process.env.STATS_PORT),
  hostname: "127.0.0.1",
  fetch: (req) => {
    if (new URL(req.url).pathname === "/reset") {
      count = firstAt = lastAt = 0;
      for (const k of Object.keys(arrivals)) delete arrivals[k];
    }
    return Response.json({ count, firstAt, lastAt, arrivals });
  },
});
