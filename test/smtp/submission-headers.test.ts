/**
 * The header rules of SMTP submission through real sessions: From/Sender (one mailbox each, inside
 * the channel's domain, read as the relay will read them) and the header block limits.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MAX_HEADER_BYTES, MAX_HEADER_LINES } from "@/smtp/header-rules";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";
import { startSmtpSink, type SmtpSink } from "../smtp-sink";
import { eventually, plainAuth, SmtpScript } from "./helpers";

let server: TestServer;
let sink: SmtpSink;
/** transactionals_write on the `own` channel, which relays to the sink (not capture-only). */
let ownToken: string;

const HEADER_LIMIT = `552 5.3.4 Message header exceeds the limit of ${MAX_HEADER_LINES} lines and ${MAX_HEADER_BYTES / 1024} KiB`;
const RAW = (headers: string, body = "Hello there") => `${headers}\r\nTo: ada@example.com\r\nSubject: hi\r\n\r\n${body}\r\n`;
const messageCount = (): number => server.sql("SELECT count(*) AS n FROM messages")[0].n;

/** An authenticated session on `token`'s channel. */
async function session(token = ownToken): Promise<SmtpScript> {
  const s = await SmtpScript.open(server.smtpPort);
  await s.next();
  await s.send("EHLO client.test");
  expect(await s.send(`AUTH PLAIN ${plainAuth("apikey", token)}`)).toBe("235 2.7.0 Authentication successful");
  return s;
}

/** One transaction on an open session; returns the reply to the end of DATA. `raw` ends with CRLF. */
async function transaction(s: SmtpScript, raw: string): Promise<string> {
  expect(await s.send("MAIL FROM:<app@client.test>")).toStartWith("250");
  expect(await s.send("RCPT TO:<ada@example.com>")).toStartWith("250");
  expect(await s.send("DATA")).toStartWith("354");
  return s.send(raw + ".");
}

/** Submits `raw` in a session of its own. */
async function submit(raw: string, token = ownToken): Promise<string> {
  const s = await session(token);
  try {
    return await transaction(s, raw);
  } finally {
    s.close();
  }
}

beforeAll(async () => {
  server = await startTestServer();
  sink = await startSmtpSink();
  createTestChannel(server.deps, "Own", { sender_email: "noreply@own.example" });
  const created = await server.request("POST", "/api/v1/email_servers", {
    body: { channel: "own", email_server: { label: "sink", smtp_address: "127.0.0.1", smtp_port: sink.port, smtp_enable_starttls_auto: false } },
  });
  expect(created.status).toBe(201);
  ownToken = createTestToken(server.deps, { preset: "transactional", channels: ["own"] });
});
afterAll(async () => {
  await server.stop();
  await sink.stop();
});

describe("happy", () => {
  test("one From mailbox in the channel's domain is accepted, whatever its display name or comment says", async () => {
    for (const headers of [
      "From: Shop <a@own.example>",
      'From: "ceo@bank.example" <a@own.example>',
      "From: a@own.example (ceo@bank.example)",
      "From: =?utf-8?q?ceo=40bank.example?= <a@OWN.example>",
      "From: Shop <a@own.example>\r\nSender: ops@own.example",
    ]) {
      expect(await submit(RAW(headers))).toMatch(/^250 2\.0\.0 Ok: queued as \d+$/);
    }
  });

  test("bare LF and bare CR become CRLF: what is checked, stored and relayed are the same bytes", async () => {
    const reply = await submit("From: a@own.example\nTo: ada@example.com\r\nSubject: endings\n\nline 1\nline 2\rline 3\r\n");
    const id = Number(/queued as (\d+)$/.exec(reply)![1]);
    const stored = Buffer.from(server.sql("SELECT raw_mime FROM messages WHERE id = ?", id)[0].raw_mime).toString("latin1");
    expect(stored).toEndWith("From: a@own.example\r\nTo: ada@example.com\r\nSubject: endings\r\n\r\nline 1\r\nline 2\r\nline 3\r\n");
    expect(stored).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    const relayed = await eventually(() => sink.messages.find((m) => m.header("subject") === "endings"));
    expect(relayed.raw.toString("latin1")).toBe(stored);
  });

  test(`a header block of exactly ${MAX_HEADER_LINES} lines is accepted`, async () => {
    const filler = Array.from({ length: MAX_HEADER_LINES - 3 }, (_, i) => `X-Filler-${i}: value`);
    expect(await submit(RAW(["From: a@own.example", ...filler].join("\r\n")))).toStartWith("250 2.0.0 Ok: queued as");
  });
});

describe("errors", () => {
  test("From or Sender naming a second or foreign address → 553 5.7.1, nothing queued", async () => {
    const single = "553 5.7.1 From must be one header holding one mailbox";
    const cases: [string, string][] = [
      ["From: a@own.example, ceo@bank.example", single],
      ["From: a@own.example; ceo@bank.example", single],
      ["From: a@own.example,\r\n ceo@bank.example", single],
      ["From: a@own.example\r\nFrom: ceo@bank.example", single],
      ["From: a@own.example\r\nFROM : ceo@bank.example", single],
      ["From: a@own.example\nFrom: ceo@bank.example", single],
      ["From: a@own.example\rFrom: ceo@bank.example", single],
      ["From: Team: a@own.example;", single],
      ["From: a@own.example ceo@bank.example", single],
      ["From: ceo@bank.example <a@own.example>", single],
      ["From: Shop <a@own.example> <ceo@bank.example>", single],
      ["From: <@bank.example:a@own.example>", single],
      ['From: "a@own.example"@bank.example', single],
      ["From: =?utf-8?q?ceo=40bank.example?=", single],
      ["From: Shop <a@own.example>\r\nSender: a@own.example, ceo@bank.example", "553 5.7.1 Sender must be one header holding one mailbox"],
      ["From: Shop <a@own.example>\r\nSender: a@own.example\r\nSender: ceo@bank.example", "553 5.7.1 Sender must be one header holding one mailbox"],
      ["From: Shop <a@own.example>\r\nSender: ceo@bank.example", "553 5.7.1 Sender domain not allowed for this channel"],
      ["From: CEO <ceo@bank.example>", "553 5.7.1 From domain not allowed for this channel"],
      ["From: a@own.example.bank.example", "553 5.7.1 From domain not allowed for this channel"],
    ];
    const before = messageCount();
    const s = await session();
    for (const [headers, expected] of cases) expect([headers, await transaction(s, RAW(headers))]).toEqual([headers, expected]);
    s.close();
    expect(messageCount()).toBe(before);
  });

  test("a capture-only channel may use any domain, but still exactly one From mailbox", async () => {
    const before = messageCount();
    expect(await submit(RAW("From: a@elsewhere.test\r\nFrom: ceo@bank.example"), server.defaultToken)).toBe("553 5.7.1 From must be one header holding one mailbox");
    expect(messageCount()).toBe(before);
    expect(await submit(RAW("From: ceo@bank.example"), server.defaultToken)).toStartWith("250 2.0.0 Ok: queued as");
  });

  test("20,000 header lines → permanent 552 5.3.4 naming the limit, nothing queued; the session goes on", async () => {
    const before = messageCount();
    const s = await session();
    const filler = Array.from({ length: 20_000 }, (_, i) => `X-Filler-${i}: value`);
    expect(await transaction(s, RAW(["From: a@own.example", ...filler].join("\r\n")))).toBe(HEADER_LIMIT);
    expect(messageCount()).toBe(before);
    expect(await transaction(s, RAW("From: a@own.example"))).toStartWith("250 2.0.0 Ok: queued as");
    s.close();
  });

  test(`${MAX_HEADER_LINES + 1} header lines, or over ${MAX_HEADER_BYTES / 1024} KiB in a few lines → 552`, async () => {
    const lines = Array.from({ length: MAX_HEADER_LINES - 2 }, (_, i) => `X-Filler-${i}: value`);
    const folded = Array.from({ length: 10 }, () => " " + "x".repeat(MAX_HEADER_BYTES / 10)).join("\r\n");
    const before = messageCount();
    expect(await submit(RAW(["From: a@own.example", ...lines].join("\r\n")))).toBe(HEADER_LIMIT);
    expect(await submit(RAW(`From: a@own.example\r\nX-Long: start\r\n${folded}`))).toBe(HEADER_LIMIT);
    expect(messageCount()).toBe(before);
  });

  test("a MIME part past the parser's header limit → permanent 554 5.6.0, not a 451 retried forever", async () => {
    const partHeaders = Array.from({ length: 20_000 }, (_, i) => `X-Part-${i}: value`).join("\r\n");
    const body = `--b\r\nContent-Type: text/plain\r\n${partHeaders}\r\n\r\nhi\r\n--b--`;
    const before = messageCount();
    const reply = await submit(RAW('From: a@own.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"', body));
    expect(reply).toBe("554 5.6.0 Message structure not accepted: Max header size for a MIME node exceeded");
    expect(messageCount()).toBe(before);
  });
});
