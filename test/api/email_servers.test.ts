/** §9 /email_servers over real HTTP, SQLite and SMTP sinks. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { audit_log, email_servers } from "@/db/schema";
import { decryptSecret } from "@/lib/secrets";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";
import { startSmtpSink, type SmtpSink } from "../smtp-sink";

let server: TestServer;
let sink: SmtpSink;
const base = { label: "Primary", smtp_address: "127.0.0.1", smtp_port: 2525, smtp_username: "AKIA1", smtp_password: "hunter2-secret" };

beforeAll(async () => {
  server = await startTestServer();
  sink = await startSmtpSink({ auth: { user: "relay", pass: "right-password" } });
  createTestChannel(server.deps, "Marketing");
});
afterAll(async () => {
  await server.stop();
  await sink.stop();
});

const create = (body: Record<string, unknown>, token?: string) =>
  server.request("POST", "/api/v1/email_servers", { token, body: { channel: "default", ...body } });

describe("happy", () => {
  test("create returns the full object with the password masked; defaults per §9", async () => {
    const res = await create({ email_server: base });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      channel: "default",
      label: "Primary",
      vendor: "smtp",
      delivery_method: "smtp",
      active: true,
      smtp_port: 2525,
      smtp_username: "AKIA1",
      smtp_password: "••••••••",
      smtp_enable_starttls_auto: true,
      smtp_tls: false,
      emails_per_hour: null,
      priority: 100,
      use_for_broadcasts: true,
      use_for_sequences: true,
      use_for_transactionals: true,
      include_unsubscribe_header: true,
      use_custom_unsubscribe_link: false,
      connection_failed_at: null,
      last_error: null,
    });
    expect(res.text).not.toContain("hunter2");
  });

  test("the password is encrypted at rest with a 0600 key file in the data dir", async () => {
    const res = await create({ ...base, label: "Encrypted" });
    const row = server.deps.db.select().from(email_servers).where(eq(email_servers.id, res.body.id)).get()!;
    expect(row.smtp_password_enc).not.toContain("hunter2");
    expect(decryptSecret(server.dataDir, row.smtp_password_enc!)).toBe("hunter2-secret");
    const keyFile = join(server.dataDir, "secret.key");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(server.dataDir, "mailroom.db")).includes("hunter2-secret")).toBe(false);
  });

  test("port 465 defaults to implicit TLS; get and list (offset envelope)", async () => {
    const res = await create({ label: "SSL", smtp_address: "smtp.example.com", smtp_port: 465 });
    expect(res.body.smtp_tls).toBe(true);
    expect(res.body.smtp_password).toBeNull();
    const got = await server.request("GET", `/api/v1/email_servers/${res.body.id}.json`);
    expect(got.body).toEqual(res.body);
    const list = await server.request("GET", "/api/v1/email_servers?limit=2&offset=1");
    expect(list.body.limit).toBe(2);
    expect(list.body.offset).toBe(1);
    expect(list.body.total).toBeGreaterThanOrEqual(3);
    expect(list.body.data[0]).toMatchObject({ label: "Encrypted", smtp_password: "••••••••" });
  });

  test("PATCH: a redacted echo is ignored with parameter_ignored; a new password is stored; audit redacts it", async () => {
    const created = await create({ ...base, label: "Patchable" });
    const id = created.body.id;
    const echo = await server.request("PATCH", `/api/v1/email_servers/${id}`, { body: { email_server: { ...created.body, label: "Renamed" } } });
    expect(echo.status).toBe(200);
    expect(echo.body.label).toBe("Renamed");
    expect(echo.body.warnings).toContainEqual(expect.objectContaining({ code: "parameter_ignored", param: "email_server.smtp_password" }));
    const enc = () => server.deps.db.select().from(email_servers).where(eq(email_servers.id, id)).get()!.smtp_password_enc!;
    expect(decryptSecret(server.dataDir, enc())).toBe("hunter2-secret");
    for (const masked of ["••••••••", "hu••••••et"]) {
      const r = await server.request("PATCH", `/api/v1/email_servers/${id}`, { body: { smtp_password: masked } });
      expect(r.body.warnings).toEqual([expect.objectContaining({ code: "parameter_ignored", param: "smtp_password" })]);
    }
    await server.request("PATCH", `/api/v1/email_servers/${id}`, { body: { smtp_password: "new-secret-1" } });
    expect(decryptSecret(server.dataDir, enc())).toBe("new-secret-1");
    const audits = server.deps.db.select().from(audit_log).where(eq(audit_log.target_id, id)).all().filter((a) => a.target_type === "email_server");
    expect(audits.map((a) => a.action)).toEqual(["email_server.created", "email_server.updated", "email_server.updated", "email_server.updated", "email_server.updated"]);
    const text = JSON.stringify(audits);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("new-secret-1");
    expect(audits[0].changes!.smtp_password).toEqual(["[redacted]", "[redacted]"]);
    expect(audits[4].changes).toEqual({ smtp_password: ["[redacted]", "[redacted]"] });
  });

  test("test_connection: success activates and clears errors; failure deactivates and records the error", async () => {
    const created = await create({ label: "Sink", smtp_address: "127.0.0.1", smtp_port: sink.port, smtp_enable_starttls_auto: false, smtp_username: "relay", smtp_password: "wrong", active: false });
    const id = created.body.id;
    const bad = await server.request("POST", `/api/v1/email_servers/${id}/test_connection`);
    expect(bad.status).toBe(200);
    expect(bad.body.success).toBe(false);
    expect(bad.body.message).toStartWith("Connection failed: ");
    expect(bad.body.message).toContain("535");
    let got = (await server.request("GET", `/api/v1/email_servers/${id}`)).body;
    expect(got.active).toBe(false);
    expect(got.connection_failed_at).not.toBeNull();
    expect(got.last_error).toContain("535");

    await server.request("PATCH", `/api/v1/email_servers/${id}`, { body: { smtp_password: "right-password" } });
    const ok = await server.request("POST", `/api/v1/email_servers/${id}/test_connection`);
    expect(ok.body).toEqual({ success: true, message: "Connection successful" });
    got = (await server.request("GET", `/api/v1/email_servers/${id}`)).body;
    expect(got).toMatchObject({ active: true, connection_failed_at: null, last_error: null });
  });

  test("copy_to_channel copies everything, password included", async () => {
    const created = await create({ label: "Copy me", smtp_address: "127.0.0.1", smtp_port: sink.port, smtp_enable_starttls_auto: false, smtp_username: "relay", smtp_password: "right-password" });
    const res = await server.request("POST", `/api/v1/email_servers/${created.body.id}/copy_to_channel`, { body: { target_channel: "marketing" } });
    expect(res.status).toBe(201);
    expect(res.body.channel).toBe("marketing");
    expect(res.body.id).not.toBe(created.body.id);
    const { id: _a, channel: _b, created_at: _c, updated_at: _d, ...same } = created.body;
    expect(res.body).toMatchObject(same);
    const test_ = await server.request("POST", `/api/v1/email_servers/${res.body.id}/test_connection`, { body: { channel: "marketing" } });
    expect(test_.body.success).toBe(true);
  });

  test("delete", async () => {
    const created = await create({ label: "Doomed", smtp_address: "x.example.com" });
    const del = await server.request("DELETE", `/api/v1/email_servers/${created.body.id}`);
    expect(del.body).toEqual({ message: "Email server deleted successfully" });
    expect((await server.request("GET", `/api/v1/email_servers/${created.body.id}`)).status).toBe(404);
  });
});

describe("errors", () => {
  test("validation: required fields, unsupported delivery_method, ranges, unknown vendor fields warned", async () => {
    const missing = await create({});
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual({ label: ["can't be blank"], smtp_address: ["can't be blank"] });
    const api = await create({ label: "API", smtp_address: "h", delivery_method: "api" });
    expect(api.body).toEqual({ error: "Delivery method is not supported (only smtp)", errors: { delivery_method: ["is not supported (only smtp)"] } });
    const range = await create({ label: "R", smtp_address: "h", priority: 1001, smtp_port: 0 });
    expect(Object.keys(range.body.errors).sort()).toEqual(["priority", "smtp_port"]);
    const vendor = await create({ label: "SES", smtp_address: "h", vendor: "aws_ses", aws_secret_access_key: "abc" });
    expect(vendor.status).toBe(201);
    expect(vendor.body.warnings).toEqual([expect.objectContaining({ code: "unrecognized_parameter", param: "aws_secret_access_key" })]);
    expect(JSON.stringify(server.deps.db.select().from(email_servers).all())).not.toContain("aws_secret_access_key");
  });

  test("404 for unknown, non-numeric and out-of-scope ids", async () => {
    expect((await server.request("GET", "/api/v1/email_servers/999999")).body).toEqual({ error: "Email server not found" });
    expect((await server.request("GET", "/api/v1/email_servers/abc")).status).toBe(404);
    const other = await create({ label: "Mkt", smtp_address: "h", channel: "marketing" });
    const scoped = createTestToken(server.deps, { permissions: ["email_servers_read", "email_servers_write"], channels: ["default"] });
    const res = await server.request("GET", `/api/v1/email_servers/${other.body.id}`, { token: scoped });
    expect(res.status).toBe(404);
    const list = await server.request("GET", "/api/v1/email_servers", { token: scoped });
    expect(list.body.data.every((s: { channel: string }) => s.channel === "default")).toBe(true);
  });

  test("create needs exactly one channel", async () => {
    const res = await server.request("POST", "/api/v1/email_servers", { body: { label: "x", smtp_address: "h" } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ channel: ["must identify exactly one channel"] });
  });

  test("copy_to_channel: missing target, same channel, unknown channel", async () => {
    const created = await create({ label: "Src", smtp_address: "h" });
    const url = `/api/v1/email_servers/${created.body.id}/copy_to_channel`;
    expect((await server.request("POST", url, { body: {} })).body.errors).toEqual({ target_channel_id: ["can't be blank"] });
    expect((await server.request("POST", url, { body: { target_channel_id: 1 } })).status).toBe(422);
    expect((await server.request("POST", url, { body: { target_channel: "nope" } })).body).toEqual({ error: "Channel not found: nope" });
  });

  test("test_connection to a closed port fails within the limit", async () => {
    const closed = await startSmtpSink();
    const port = closed.port;
    await closed.stop();
    const created = await create({ label: "Closed", smtp_address: "127.0.0.1", smtp_port: port });
    const res = await server.request("POST", `/api/v1/email_servers/${created.body.id}/test_connection`);
    expect(res.body.success).toBe(false);
    expect(res.body.message).toContain("ECONNREFUSED");
  });
});

describe("permissions", () => {
  test("read vs write; copy needs a token reaching both channels", async () => {
    const reader = createTestToken(server.deps, { permissions: ["email_servers_read"] });
    const writer = createTestToken(server.deps, { permissions: ["email_servers_write"] });
    expect((await server.request("GET", "/api/v1/email_servers", { token: reader })).status).toBe(200);
    const denied = await create({ label: "x", smtp_address: "h" }, reader);
    expect(denied.status).toBe(403);
    expect(denied.body.required_permission).toBe("email_servers_write");
    expect((await server.request("GET", "/api/v1/email_servers", { token: writer })).status).toBe(403);
    const created = await create({ label: "Mine", smtp_address: "h" }, writer);
    expect(created.status).toBe(201);
    for (const path of ["test_connection", "copy_to_channel"]) {
      const r = await server.request("POST", `/api/v1/email_servers/${created.body.id}/${path}`, { token: reader, body: { target_channel: "marketing" } });
      expect(r.status).toBe(403);
    }
    const copy = await server.request("POST", `/api/v1/email_servers/${created.body.id}/copy_to_channel`, { token: writer, body: { target_channel: "marketing" } });
    expect(copy.status).toBe(403);
    expect(copy.body.message).toBe("Token is not scoped to channel(s): marketing");
  });
});
