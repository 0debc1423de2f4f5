import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { networkInterfaces } from "node:os";
import { count, eq, inArray } from "drizzle-orm";
import nodemailer from "nodemailer";
import { captured_messages, channels, messages, suppressions } from "@/db/schema";
import { generateToken } from "@/lib/tokens";
import { createTestChannel, createTestToken } from "../fixtures";
import { fakeClock, startTestServer, tempDir, type TestServer } from "../harness";
import { selfSignedCert, startSmtpSink, type SmtpSink } from "../smtp-sink";
import { eventually, plainAuth, SmtpScript, submissionClient } from "./helpers";

let server: TestServer;
let sink: SmtpSink;
/** transactionals_write on default + billing (billing delivers through the sink). */
let twoChannelToken: string;

const RAW = (headers: string[], body = "Hello there") => [...headers, "", body, ""].join("\r\n");
const outbox = (ids: number[]) => server.deps.db.select().from(messages).where(inArray(messages.id, ids)).all();
const idsOf = (response: string) => /queued as ([\d,]+)$/.exec(response)![1].split(",").map(Number);

/** Opens a session and authenticates with AUTH PLAIN. */
async function session(user: string, token: string, port = server.smtpPort): Promise<SmtpScript> {
  const s = await SmtpScript.open(port);
  await s.next();
  await s.send("EHLO client.test");
  expect(await s.send(`AUTH PLAIN ${plainAuth(user, token)}`)).toBe("235 2.7.0 Authentication successful");
  return s;
}

beforeAll(async () => {
  server = await startTestServer();
  sink = await startSmtpSink();
  createTestChannel(server.deps, "Billing", { sender_email: "billing@example.com" });
  const created = await server.request("POST", "/api/v1/email_servers", {
    body: { channel: "billing", email_server: { label: "sink", smtp_address: "127.0.0.1", smtp_port: sink.port, smtp_enable_starttls_auto: false } },
  });
  expect(created.status).toBe(201);
  twoChannelToken = createTestToken(server.deps, { permissions: ["transactionals_write", "transactionals_read"], channels: ["default", "billing"] });
});
afterAll(async () => {
  await server.stop();
  await sink.stop();
});

describe("happy", () => {
  test("greeting, EHLO extensions, VRFY, EXPN", async () => {
    const s = await SmtpScript.open(server.smtpPort);
    expect(await s.next()).toBe("220 localhost Mailroom ESMTP");
    const ehlo = (await s.send("EHLO client.test")).split("\n").map((l) => l.slice(4));
    for (const ext of ["SIZE 10485760", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"]) expect(ehlo).toContain(ext);
    expect(ehlo).not.toContain("STARTTLS");
    expect(await s.send("VRFY ada@example.com")).toStartWith("252 2.5.2 ");
    expect(await s.send("EXPN staff")).toStartWith("502 5.5.1 ");
    expect(await s.send("QUIT")).toStartWith("221");
    s.close();
  });

  test("AUTH PLAIN with the default token: one transactional per RCPT, Bcc removed, Message-ID/Date added, delivered into capture", async () => {
    const client = submissionClient(server, "apikey", server.defaultToken);
    const info = await client.sendMail({
      envelope: { from: "whatever@client.test", to: ["ada@example.com", "hidden@example.com"] },
      raw: RAW(["From: Shop <noreply@localhost>", "To: Ada Lovelace <ada@example.com>", "Bcc: hidden@example.com", "Subject: Your receipt", "Reply-To: help@localhost"], "Thanks!"),
    });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+,\d+$/);
    const ids = idsOf(info.response);
    const rows = outbox(ids);
    expect(rows.map((r) => [r.recipient_email, r.recipient_name, r.source, r.kind])).toEqual([
      ["ada@example.com", "Ada Lovelace", "smtp", "transactional"],
      ["hidden@example.com", null, "smtp", "transactional"],
    ]);
    expect(rows[0].subject).toBe("Your receipt");
    expect(rows[0].reply_to).toBe("help@localhost");
    expect(rows[0].message_id).toMatch(/^<.+@localhost>$/);
    expect(rows[1].message_id).toBe(rows[0].message_id);
    const raw = rows[0].raw_mime!.toString();
    expect(raw).not.toMatch(/^Bcc:/im);
    expect(raw).toContain(`Message-ID: ${rows[0].message_id}`);
    expect(raw).toMatch(/^Date: .+\+0000$/m);
    expect(raw).toContain("Subject: Your receipt\r\n");

    const api = await server.request("GET", `/api/v1/transactionals/${ids[0]}`, { token: server.defaultToken });
    expect(api.status).toBe(200);
    expect(api.body).toMatchObject({ source: "smtp", recipient_email: "ada@example.com", subject: "Your receipt" });

    // The default channel has no email server: the worker delivers into local capture.
    const captured = await eventually(() => {
      const rows = server.deps.db.select().from(captured_messages).where(inArray(captured_messages.transactional_id, ids)).all();
      return rows.length === 2 ? rows : null;
    });
    for (const c of captured) {
      expect(c.raw.toString()).not.toMatch(/^Bcc:/im);
      expect(c.message_id).toBe(rows[0].message_id);
    }
    expect(captured.map((c) => c.envelope_to).flat().sort()).toEqual(["ada@example.com", "hidden@example.com"]);
  });

  test("AUTH LOGIN with a channel slug selects the channel; delivered to its server with the client's Message-ID", async () => {
    const client = nodemailer.createTransport({
      host: "127.0.0.1",
      port: server.smtpPort,
      secure: false,
      ignoreTLS: true,
      authMethod: "LOGIN",
      auth: { user: "billing", pass: twoChannelToken },
    });
    const info = await client.sendMail({
      from: "Billing <billing@example.com>",
      to: "Ada <ada@example.com>",
      subject: "Invoice 42",
      html: "<p>Invoice</p>",
      messageId: "<invoice-42@example.com>",
    });
    const [id] = idsOf(info.response);
    const row = outbox([id])[0];
    expect(row.channel_id).toBe(server.deps.auth.cache.channelBySlug("billing")!.id);
    expect(row.body!.trim()).toBe("<p>Invoice</p>");
    expect(row.message_id).toBe("<invoice-42@example.com>");
    const [delivered] = await sink.waitFor(1);
    expect(delivered.envelope).toEqual({ from: "billing@example.com", to: ["ada@example.com"] });
    expect(delivered.header("message-id")).toBe("<invoice-42@example.com>");
    expect(delivered.header("subject")).toBe("Invoice 42");
    expect(delivered.raw.toString()).not.toContain("X-Mailroom-Capture");
  });

  test("a capture-only channel accepts any From domain", async () => {
    const info = await submissionClient(server, "apikey", server.defaultToken).sendMail({ from: "someone@elsewhere.test", to: "ada@example.com", subject: "x", text: "x" });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+$/);
  });

  test("a capture-only channel without sender_email accepts mail; its From is the envelope sender", async () => {
    createTestChannel(server.deps, "Sandbox");
    const token = createTestToken(server.deps, { preset: "transactional", channels: ["sandbox"] });
    const info = await submissionClient(server, "apikey", token).sendMail({ from: "dev@sandbox.test", to: "ada@example.com", subject: "x", text: "x" });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+$/);
    const [id] = idsOf(info.response);
    const captured = await eventually(() => server.deps.db.select().from(captured_messages).where(eq(captured_messages.transactional_id, id)).get());
    expect(captured.envelope_from).toBe("dev@sandbox.test");
    expect(outbox([id])[0].status).toBe("sent");
  });
});

describe("errors", () => {
  test("MAIL before AUTH → 530; other mechanisms → 504", async () => {
    const s = await SmtpScript.open(server.smtpPort);
    await s.next();
    await s.send("EHLO client.test");
    expect(await s.send("MAIL FROM:<a@localhost>")).toBe("530 5.7.0 Authentication required");
    expect(await s.send("AUTH CRAM-MD5")).toBe("504 5.5.4 Unrecognized authentication type");
    s.close();
  });

  test("AUTH refusals: unknown, malformed, read-only, other channel, IP not allowed → 535", async () => {
    const readOnly = createTestToken(server.deps, { preset: "read_only" });
    const defaultOnly = createTestToken(server.deps, { preset: "transactional" });
    const ipLocked = createTestToken(server.deps, { preset: "transactional", allowed_ips: ["203.0.113.0/24"] });
    const cases: [string, string][] = [
      ["apikey", generateToken()],
      ["apikey", "not-a-token"],
      ["apikey", readOnly],
      ["billing", defaultOnly],
      ["apikey", ipLocked],
    ];
    for (const [user, token] of cases) {
      const s = await SmtpScript.open(server.smtpPort);
      await s.next();
      await s.send("EHLO client.test");
      expect(await s.send(`AUTH PLAIN ${plainAuth(user, token)}`)).toBe("535 5.7.8 Authentication credentials invalid");
      s.close();
    }
    const login = await submissionClient(server, "apikey", readOnly).sendMail({ from: "noreply@localhost", to: "a@example.com", text: "x" }).catch((e) => e);
    expect(login.response).toBe("535 5.7.8 Authentication credentials invalid");
  });

  test("a token reaching several channels needs a slug username", async () => {
    const s = await session("apikey", twoChannelToken);
    expect(await s.send("MAIL FROM:<billing@example.com>")).toBe("550 5.7.1 Token targets several channels; use a channel slug as the SMTP username");
    s.close();
  });

  test("RCPT: bad syntax 501, suppressed 550 (others still accepted), 51st 452", async () => {
    const channelId = server.deps.auth.cache.channelBySlug("default")!.id;
    server.deps.db.insert(suppressions).values({ channel_id: channelId, email: "blocked@example.com", created_at: Date.now() }).run();
    server.deps.db.insert(suppressions).values({ channel_id: null, email: "global@example.com", created_at: Date.now() }).run();
    const s = await session("apikey", server.defaultToken);
    expect(await s.send("MAIL FROM:<noreply@localhost>")).toStartWith("250");
    expect(await s.send("RCPT TO:<not-an-address>")).toBe("501 5.1.3 Bad recipient address syntax");
    expect(await s.send("RCPT TO:<Blocked@Example.com>")).toBe("550 5.7.1 Recipient is suppressed");
    expect(await s.send("RCPT TO:<global@example.com>")).toBe("550 5.7.1 Recipient is suppressed");
    expect(await s.send("RCPT TO:<ok@example.com>")).toStartWith("250");
    expect(await s.send("DATA")).toStartWith("354");
    const reply = await s.send(RAW(["From: noreply@localhost", "To: ok@example.com", "Subject: partial"]) + ".");
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as \d+$/);
    expect(outbox(idsOf(reply)).map((r) => r.recipient_email)).toEqual(["ok@example.com"]);

    expect(await s.send("MAIL FROM:<noreply@localhost>")).toStartWith("250");
    for (let i = 1; i <= 50; i++) expect(await s.send(`RCPT TO:<r${i}@example.com>`)).toStartWith("250");
    expect(await s.send("RCPT TO:<r51@example.com>")).toBe("452 4.5.3 Too many recipients");
    expect(await s.send("RSET")).toStartWith("250");
    s.close();
  });

  test("From missing → 550 5.6.0; foreign From domain on a channel with servers → 553", async () => {
    const s = await session("apikey", server.defaultToken);
    for (const [headers, expected] of [
      [["To: a@example.com", "Subject: no from"], "550 5.6.0 Missing From header"],
    ] as const) {
      await s.send("MAIL FROM:<noreply@localhost>");
      await s.send("RCPT TO:<a@example.com>");
      await s.send("DATA");
      expect(await s.send(RAW([...headers]) + ".")).toBe(expected);
    }
    s.close();
    const foreign = await nodemailer
      .createTransport({ host: "127.0.0.1", port: server.smtpPort, secure: false, ignoreTLS: true, auth: { user: "billing", pass: twoChannelToken } })
      .sendMail({ from: "billing@elsewhere.test", to: "a@example.com", subject: "x", text: "x" })
      .catch((e) => e);
    expect(foreign.response).toBe("553 5.7.1 From domain not allowed for this channel");
  });

  test("rate limit: one send token per recipient, all or nothing → 451", async () => {
    const limited = createTestToken(server.deps, { preset: "transactional", rate_limits: { send_per_minute: 2 } });
    const before = server.deps.db.select({ n: count() }).from(messages).get()!.n;
    const client = submissionClient(server, "apikey", limited);
    const refused = await client.sendMail({ from: "noreply@localhost", to: ["a@example.com", "b@example.com", "c@example.com"], subject: "x", text: "x" }).catch((e) => e);
    expect(refused.response).toBe("451 4.7.1 Rate limit exceeded, retry later");
    expect(server.deps.db.select({ n: count() }).from(messages).get()!.n).toBe(before);
    const ok = await client.sendMail({ from: "noreply@localhost", to: ["a@example.com", "b@example.com"], subject: "x", text: "x" });
    expect(idsOf(ok.response)).toHaveLength(2);
  });

  test("quota: insufficient / exhausted → 550 5.7.0, nothing queued", async () => {
    createTestChannel(server.deps, "Tiny", { sender_email: "tiny@example.com", monthly_send_quota: 1 });
    const token = createTestToken(server.deps, { preset: "transactional", channels: ["tiny"] });
    const client = submissionClient(server, "apikey", token);
    const refused = await client.sendMail({ from: "tiny@example.com", to: ["a@example.com", "b@example.com"], subject: "x", text: "x" }).catch((e) => e);
    expect(refused.response).toBe("550 5.7.0 Monthly send quota insufficient: 2 recipients, 1 remaining");
    const tinyId = server.deps.auth.cache.channelBySlug("tiny")!.id;
    const inTiny = () => server.deps.db.select({ n: count() }).from(messages).where(eq(messages.channel_id, tinyId)).get()!.n;
    expect(inTiny()).toBe(0);
    await client.sendMail({ from: "tiny@example.com", to: "a@example.com", subject: "x", text: "x" });
    const exhausted = await client.sendMail({ from: "tiny@example.com", to: "b@example.com", subject: "x", text: "x" }).catch((e) => e);
    expect(exhausted.response).toBe("550 5.7.0 Monthly send quota exhausted");
    expect(inTiny()).toBe(1);
  });

  test("messages over 10 MiB → 552", async () => {
    const s = await session("apikey", server.defaultToken);
    expect(await s.send("MAIL FROM:<noreply@localhost> SIZE=10485761")).toBe("552 5.3.4 Message size exceeds fixed maximum message size");
    s.close();
    const big = await submissionClient(server, "apikey", server.defaultToken)
      .sendMail({ from: "noreply@localhost", to: "a@example.com", subject: "big", text: "x".repeat(10 * 1024 * 1024 + 10) })
      .catch((e) => e);
    expect(big.response).toBe("552 5.3.4 Message size exceeds fixed maximum message size");
  });

  test("100 messages per connection, then 421", async () => {
    const s = await session("apikey", server.defaultToken);
    const message = RAW(["From: noreply@localhost", "To: a@example.com", "Subject: bulk"]) + ".";
    for (let i = 0; i < 100; i++) {
      s.socket.write(`MAIL FROM:<noreply@localhost>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n`);
      await s.next();
      await s.next();
      await s.next();
      expect(await s.send(message)).toStartWith("250 2.0.0 Ok: queued as");
    }
    expect(await s.send("MAIL FROM:<noreply@localhost>")).toStartWith("421 4.7.0 ");
    s.close();
  });

  test("at most 100 connections; the 101st gets 421", async () => {
    const open = await Promise.all(Array.from({ length: 100 }, () => SmtpScript.open(server.smtpPort)));
    try {
      for (const s of open) expect(await s.next()).toBe("220 localhost Mailroom ESMTP");
      const extra = await SmtpScript.open(server.smtpPort);
      expect(await extra.next()).toBe("421 4.7.0 Too many connections, try again later");
      extra.close();
    } finally {
      for (const s of open) s.close();
    }
  });

  test("a token changed during an open session applies to its next message: edit, refresh, revoke → 535", async () => {
    const token = createTestToken(server.deps, { name: "smtp session", preset: "transactional" });
    const id = (await server.request("GET", "/api/v1/whoami", { token })).body.token.id;
    const message = async (s: SmtpScript) => {
      const from = await s.send("MAIL FROM:<app@client.test>");
      if (!from.startsWith("250")) return from;
      expect(await s.send("RCPT TO:<ada@example.com>")).toStartWith("250");
      expect(await s.send("DATA")).toStartWith("354");
      return s.send(RAW(["From: noreply@localhost", "To: ada@example.com", "Subject: hi"]) + ".");
    };

    // Permission taken away between messages: the next MAIL FROM is refused.
    const edited = await session("apikey", token);
    expect(await message(edited)).toStartWith("250 2.0.0 Ok: queued as");
    await server.request("PATCH", `/api/v1/access_tokens/${id}`, { body: { permissions: ["transactionals_read"] } });
    expect(await message(edited)).toBe("535 5.7.8 Authentication credentials invalid");
    edited.close();
    await server.request("PATCH", `/api/v1/access_tokens/${id}`, { body: { permissions: ["transactionals_read", "transactionals_write"] } });

    // Refreshed (no grace) while a message is in the envelope: its DATA is refused, nothing queued.
    const refreshed = await session("apikey", token);
    expect(await refreshed.send("MAIL FROM:<app@client.test>")).toStartWith("250");
    expect(await refreshed.send("RCPT TO:<grace@example.com>")).toStartWith("250");
    expect(await refreshed.send("DATA")).toStartWith("354");
    const renewed = await server.request("POST", `/api/v1/access_tokens/${id}/refresh`);
    expect(renewed.status).toBe(200);
    expect(await refreshed.send(RAW(["From: noreply@localhost", "To: grace@example.com", "Subject: hi"]) + ".")).toBe(
      "535 5.7.8 Authentication credentials invalid",
    );
    expect(server.sql("SELECT count(*) AS n FROM messages WHERE recipient_email = 'grace@example.com'")[0].n).toBe(0);
    refreshed.close();

    // Revoked: the new value's session is refused from the next message on.
    const revoked = await session("apikey", renewed.body.token);
    expect(await message(revoked)).toStartWith("250 2.0.0 Ok: queued as");
    expect((await server.request("DELETE", `/api/v1/access_tokens/${id}`)).status).toBe(200);
    expect(await message(revoked)).toBe("535 5.7.8 Authentication credentials invalid");
    revoked.close();
  });

  test("a token that expires during an open session: next message → 535 5.7.8 API token has expired", async () => {
    const clock = fakeClock(Date.now());
    const own = await startTestServer({ clock });
    try {
      const token = createTestToken(own.deps, { preset: "transactional", expires_at: clock.now() + 3_600_000 });
      const s = await session("apikey", token, own.smtpPort);
      expect(await s.send("MAIL FROM:<app@client.test>")).toStartWith("250");
      expect(await s.send("RSET")).toStartWith("250");
      clock.advance(2 * 3_600_000);
      expect(await s.send("MAIL FROM:<app@client.test>")).toBe("535 5.7.8 API token has expired");
      s.close();
    } finally {
      await own.stop();
    }
  });

  test("expired token → 535 5.7.8 API token has expired", async () => {
    const clock = fakeClock(Date.now());
    const own = await startTestServer({ clock });
    try {
      const token = createTestToken(own.deps, { preset: "transactional", expires_at: clock.now() + 3_600_000 });
      clock.advance(2 * 3_600_000);
      const s = await SmtpScript.open(own.smtpPort);
      await s.next();
      await s.send("EHLO client.test");
      expect(await s.send(`AUTH PLAIN ${plainAuth("apikey", token)}`)).toBe("535 5.7.8 API token has expired");
      s.close();
    } finally {
      await own.stop();
    }
  });
});

describe("permissions", () => {
  const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal)?.address;
  let own: TestServer | null = null;
  afterEach(async () => {
    await own?.stop();
    own = null;
  });

  test("plain-text AUTH from a non-loopback peer: not offered, 538", async () => {
    if (!external) return; // needs a second interface to connect from a non-loopback address
    own = await startTestServer({ env: { MAILROOM_SMTP_HOST: "0.0.0.0" } });
    const s = await SmtpScript.open(own.smtpPort, external);
    await s.next();
    expect(await s.send("EHLO client.test")).not.toContain("AUTH");
    expect(await s.send(`AUTH PLAIN ${plainAuth("apikey", own.defaultToken)}`)).toBe("538 5.7.11 Encryption required for requested authentication mechanism");
    expect(await s.send("AUTH LOGIN")).toBe("538 5.7.11 Encryption required for requested authentication mechanism");
    expect(await s.send("MAIL FROM:<noreply@localhost>")).toBe("530 5.7.0 Authentication required");
    s.close();
  });

  test("with TLS configured: STARTTLS offered, AUTH after TLS works from a non-loopback peer", async () => {
    if (!external) return;
    const dir = tempDir("mailroom-tls-");
    const { key, cert } = selfSignedCert();
    writeFileSync(join(dir, "key.pem"), key);
    writeFileSync(join(dir, "cert.pem"), cert);
    own = await startTestServer({
      env: { MAILROOM_SMTP_HOST: "0.0.0.0", MAILROOM_TLS_CERT: join(dir, "cert.pem"), MAILROOM_TLS_KEY: join(dir, "key.pem") },
    });
    const s = await SmtpScript.open(own.smtpPort, external);
    await s.next();
    const ehlo = await s.send("EHLO client.test");
    expect(ehlo).toContain("STARTTLS");
    expect(ehlo).not.toContain("AUTH");
    s.close();
    const info = await nodemailer
      .createTransport({ host: external, port: own.smtpPort, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: "apikey", pass: own.defaultToken } })
      .sendMail({ from: "noreply@localhost", to: "ada@example.com", subject: "over TLS", text: "x" });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+$/);
  });

  test("shutdown answers open sessions 421 4.3.2", async () => {
    own = await startTestServer();
    const s = await session("apikey", own.defaultToken, own.smtpPort);
    const stopping = own.stop();
    expect(await s.next()).toBe("421 4.3.2 Service shutting down");
    await stopping;
    own = null;
    s.close();
  });

  test("channel lookups stay inside the token: a slug the token cannot reach is refused at AUTH", async () => {
    const billingId = server.deps.db.select().from(channels).where(eq(channels.slug, "billing")).get()!.id;
    const token = createTestToken(server.deps, { preset: "transactional", channels: ["default"] });
    const inBilling = () => server.deps.db.select({ n: count() }).from(messages).where(eq(messages.channel_id, billingId)).get()!.n;
    const before = inBilling();
    const s = await SmtpScript.open(server.smtpPort);
    await s.next();
    await s.send("EHLO client.test");
    expect(await s.send(`AUTH PLAIN ${plainAuth("billing", token)}`)).toBe("535 5.7.8 Authentication credentials invalid");
    expect(await s.send("MAIL FROM:<billing@example.com>")).toBe("530 5.7.0 Authentication required");
    s.close();
    expect(inBilling()).toBe(before);
  });
});
