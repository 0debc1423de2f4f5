/**
 * A real SMTP server on an ephemeral port that records what it receives (envelope, raw MIME and
 * headers parsed by mailparser) and can be told to refuse: a 4xx/5xx at MAIL FROM, RCPT TO or
 * DATA (optionally only the next N times), a failed AUTH, a slow DATA reply, or DATA replies held
 * until the test releases them. It counts MAIL FROM commands, open connections and transactions in
 * parallel (peaks), so tests see traffic that carried no message and how hard a client pushes. Optional STARTTLS
 * (self-signed cert via `selfSignedCert()`) and AUTH. Shared by the delivery and SMTP tests.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface SinkMessage {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
  /** First raw header value by name (case-insensitive, unfolded, not decoded). */
  header(name: string): string | undefined;
  secure: boolean;
  user: string | undefined;
}

export type Stage = "mail" | "rcpt" | "data";

export interface Refusal {
  at: Stage;
  code: number;
  message?: string;
  /** Refuse only this many times, then accept again (default: always). */
  times?: number;
  /** Only for these recipients (RCPT stage). */
  recipients?: string[];
}

export interface SinkOptions {
  tls?: { key: string; cert: string };
  /** Require AUTH with these credentials. */
  auth?: { user: string; pass: string };
  /** Delay before answering DATA, per message. */
  delayMs?: number;
}

export interface SmtpSink {
  port: number;
  messages: SinkMessage[];
  /** Number of DATA transactions answered 250 (includes ones still being parsed). */
  accepted: number;
  /** MAIL FROM commands received, refused ones included: every transaction a client tried. */
  mailFrom: number;
  /** Client connections open now, and the most that were open at once. */
  connections: number;
  peakConnections: number;
  /** Messages whose DATA reply is pending right now, and the most at once (transactions in parallel). */
  inData: number;
  peakInData: number;
  refusals: Refusal[];
  delayMs: number;
  refuse(r: Refusal): void;
  /** Holds every DATA reply from now on until the returned function is called. */
  hold(): () => void;
  /** DATA replies being held right now (each message fully received, not yet answered). */
  held: number;
  reset(): void;
  /** Resolves when `n` messages have been recorded. */
  waitFor(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  stop(): Promise<void>;
}

const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

/** Starts a sink on 127.0.0.1:0. */
export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  /** Set while DATA replies are held (`hold()`). */
  let gate: Promise<void> | null = null;
  const sink: SmtpSink = {
    port: 0,
    messages: [],
    accepted: 0,
    mailFrom: 0,
    connections: 0,
    peakConnections: 0,
    inData: 0,
    peakInData: 0,
    refusals: [],
    delayMs: options.delayMs ?? 0,
    refuse: (r) => void sink.refusals.push(r),
    hold() {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    held: 0,
    reset() {
      sink.messages.length = 0;
      sink.refusals.length = 0;
      sink.accepted = 0;
      sink.mailFrom = 0;
      sink.peakConnections = sink.connections;
      sink.peakInData = sink.inData;
    },
    waitFor: async (n, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      while (sink.messages.length < n) {
        if (Date.now() > until) throw new Error(`smtp sink: waited for ${n} messages, got ${sink.messages.length}`);
        await Bun.sleep(10);
      }
      return sink.messages;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  const refusal = (at: Stage, address?: string): Error | null => {
    const r = sink.refusals.find((x) => x.at === at && (!x.recipients || (address && x.recipients.includes(address))));
    if (!r) return null;
    if (r.times !== undefined && --r.times <= 0) sink.refusals.splice(sink.refusals.indexOf(r), 1);
    return smtpError(r.code, r.message ?? (r.code >= 500 ? "Refused permanently" : "Try again later"));
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: options.tls ? (options.auth ? [] : ["AUTH"]) : options.auth ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    allowInsecureAuth: !options.tls,
    authOptional: !options.auth,
    logger: false,
    size: 50 * 1024 * 1024,
    // Pooled clients keep connections open; a stopping sink drops them quickly.
    closeTimeout: 200,
    onConnect(_session, cb) {
      sink.peakConnections = Math.max(sink.peakConnections, ++sink.connections);
      cb();
    },
    onClose() {
      sink.connections--;
    },
    onAuth(auth, _session, cb) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) cb(null, { user: auth.username });
      else cb(smtpError(535, "5.7.8 Authentication credentials invalid"));
    },
    onMailFrom(_address, _session, cb) {
      sink.mailFrom++;
      cb(refusal("mail") ?? undefined);
    },
    onRcptTo(address, _session, cb) {
      cb(refusal("rcpt", address.address) ?? undefined);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", async () => {
        const refused = refusal("data");
        sink.peakInData = Math.max(sink.peakInData, ++sink.inData);
        if (sink.delayMs) await Bun.sleep(sink.delayMs);
        if (gate) {
          sink.held++;
          await gate;
          sink.held--;
        }
        sink.inData--;
        if (refused) return cb(refused);
        const raw = Buffer.concat(chunks);
        // Read the envelope before answering: smtp-server resets the session after the reply.
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        sink.accepted++;
        cb(null, "Ok: queued");
        const parsed = await simpleParser(raw);
        sink.messages.push({
          envelope,
          raw,
          parsed,
          header: (name) => {
            const line = parsed.headerLines.find((h) => h.key === name.toLowerCase())?.line;
            return line === undefined ? undefined : line.slice(line.indexOf(":") + 1).replace(/\r?\n[ \t]+/g, " ").trim();
          },
          secure: session.secure,
          user: session.user as string | undefined,
        });
      });
    },
  });
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  sink.port = (server.server.address() as { port: number }).port;
  return sink;
}

/** A self-signed certificate for 127.0.0.1/localhost, made by `openssl req -x509` in a temp dir. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "mailroom-cert-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ], { stdio: "ignore" });
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
