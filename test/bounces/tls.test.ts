/**
 * With a certificate configured, the inbound listener offers STARTTLS (never AUTH) and takes a DSN
 * over TLS, the way receiving MTAs deliver bounces when they can.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { linkSecret } from "@/db/settings";
import { signedReturnPath } from "@/features/bounces/verp";
import { startTestServer, tempDir, type TestServer } from "../harness";
import { SmtpScript } from "../smtp/helpers";
import { selfSignedCert } from "../smtp-sink";
import { dsn } from "./reports";

let server: TestServer;
beforeAll(async () => {
  const dir = tempDir("mailroom-tls-");
  const { key, cert } = selfSignedCert();
  writeFileSync(join(dir, "key.pem"), key);
  writeFileSync(join(dir, "cert.pem"), cert);
  server = await startTestServer({
    env: { MAILROOM_TLS_CERT: join(dir, "cert.pem"), MAILROOM_TLS_KEY: join(dir, "key.pem"), MAILROOM_BOUNCE_DOMAIN: "bounce.example.com", MAILROOM_INBOUND_HOST: "127.0.0.1", MAILROOM_INBOUND_PORT: "0" },
  });
});
afterAll(() => server.stop());

test("STARTTLS is offered, AUTH is not; a DSN over TLS is received", async () => {
  const port = server.running.inboundPort!;
  const s = await SmtpScript.open(port);
  await s.next();
  const ehlo = await s.send("EHLO mx.example.org");
  s.close();
  expect(ehlo).toContain("STARTTLS");
  expect(ehlo).not.toContain("AUTH");
  const returnPath = signedReturnPath(linkSecret(server.deps), "bounce.example.com", 77);
  const info = await nodemailer
    .createTransport({ host: "127.0.0.1", port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false } })
    .sendMail({ envelope: { from: "", to: [returnPath] }, raw: dsn("exim", { returnPath, to: "ada@example.com", messageId: "<77.x@example.com>" }) });
  expect(info.response).toMatch(/^250 2\.0\.0 Ok: received as \d+$/);
  expect(server.sql("SELECT classification, result FROM inbound_messages")).toEqual([{ classification: "hard_bounce", result: "ignored" }]);
});
