/** The provider webhook fields of an email server (§9): write-only, encrypted at rest, masked in every response, audited redacted. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decryptSecret } from "@/lib/secrets";
import { createTestChannel } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  createTestChannel(server.deps, "Marketing");
});
afterAll(() => server.stop());

const sendgridKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ format: "der", type: "spki" }).toString("base64");
const secrets = { webhook_signing_key: "key-mailgun-signing-secret", webhook_public_key: sendgridKey, webhook_password: "postmark-hook-password" };
const create = (fields: Record<string, unknown>) =>
  server.request("POST", "/api/v1/email_servers", { body: { channel: "default", email_server: { label: "Relay", smtp_address: "smtp.example.com", ...fields } } });
const row = (id: number) => server.sql("SELECT * FROM email_servers WHERE id = ?", id)[0];

describe("happy", () => {
  test("keys are stored encrypted and read back masked; the user name and topic ARN in clear; the URLs of the providers answered for", async () => {
    const arn = "arn:aws:sns:eu-west-1:123456789012:ses-events";
    const res = await create({ vendor: "mailgun", webhook_username: "postmark", sns_topic_arn: arn, ...secrets });
    expect(res.status).toBe(201);
    const id = res.body.id;
    expect(res.body).toMatchObject({ webhook_signing_key: "••••••••", webhook_public_key: "••••••••", webhook_password: "••••••••", webhook_username: "postmark", sns_topic_arn: arn });
    // Mailgun is the vendor; the others because their keys are configured.
    expect(res.body.provider_webhook_urls).toEqual(
      Object.fromEntries(["ses", "postmark", "sendgrid", "mailgun"].map((p) => [p, `${server.deps.config.publicUrl}/hooks/providers/${id}/${p}`])),
    );
    const stored = row(id);
    expect(decryptSecret(server.dataDir, stored.webhook_signing_key_enc)).toBe(secrets.webhook_signing_key);
    expect(decryptSecret(server.dataDir, stored.webhook_public_key_enc)).toBe(sendgridKey);
    expect(decryptSecret(server.dataDir, stored.webhook_password_enc)).toBe(secrets.webhook_password);
    const everyResponse = [res, await server.request("GET", `/api/v1/email_servers/${id}`), await server.request("GET", "/api/v1/email_servers")];
    everyResponse.push(await server.request("POST", `/api/v1/email_servers/${id}/copy_to_channel`, { body: { target_channel: "marketing" } }));
    for (const r of everyResponse) for (const value of Object.values(secrets)) expect(r.text).not.toContain(value);
    expect(readFileSync(join(server.dataDir, "mailroom.db")).includes(secrets.webhook_signing_key)).toBe(false);
  });

  test("a server of another vendor without keys answers for none; a masked echo keeps the key; null removes it; the audit log redacts", async () => {
    const res = await create({ vendor: "smtp" });
    expect(res.body.provider_webhook_urls).toEqual({});
    const id = res.body.id;
    await server.request("PATCH", `/api/v1/email_servers/${id}`, { body: { webhook_signing_key: "first-key" } });
    const echo = await server.request("PATCH", `/api/v1/email_servers/${id}`, { body: { webhook_signing_key: "••••••••" } });
    expect(echo.body.warnings).toEqual([expect.objectContaining({ code: "parameter_ignored", param: "webhook_signing_key" })]);
    expect(decryptSecret(server.dataDir, row(id).webhook_signing_key_enc)).toBe("first-key");
    const cleared = await server.request("PATCH", `/api/v1/email_servers/${id}`, { body: { webhook_signing_key: null } });
    expect(cleared.body).toMatchObject({ webhook_signing_key: null, provider_webhook_urls: {} });
    const audits = server.sql("SELECT changes FROM audit_log WHERE target_type = 'email_server' AND target_id = ? ORDER BY id", id).map((a) => JSON.parse(a.changes ?? "{}"));
    expect(audits.at(-1)).toEqual({ webhook_signing_key: ["[redacted]", "[redacted]"] });
    expect(JSON.stringify(audits)).not.toContain("first-key");
  });
});

describe("errors", () => {
  test("a SendGrid key that is not an ECDSA P-256 public key and a malformed topic ARN → 422", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "der", type: "spki" }).toString("base64");
    for (const [field, value] of [["webhook_public_key", "not-a-key"], ["webhook_public_key", rsa], ["sns_topic_arn", "arn:aws:s3:::bucket"]]) {
      const res = await create({ [field]: value });
      expect(res.status).toBe(422);
      expect(Object.keys(res.body.errors)).toEqual([`email_server.${field}`]);
    }
  });
});
