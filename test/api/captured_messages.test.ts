import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { captured_messages } from "@/db/schema";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";
import { deliverToCapture } from "../smtp/helpers";

let server: TestServer;
let receipt: { outboxId: number };
let newsletter: { outboxId: number };
let marketingMail: { outboxId: number };
let marketingToken: string;

const list = (query = "", token?: string | null) => server.request("GET", `/api/v1/captured_messages${query}`, { token });
const idsOf = (body: { data: { id: number }[] }) => body.data.map((r) => r.id);

beforeAll(async () => {
  server = await startTestServer();
  createTestChannel(server.deps, "Marketing", { sender_email: "news@example.com" });
  marketingToken = createTestToken(server.deps, { preset: "all", channels: ["marketing"] });
  receipt = await deliverToCapture(server, {
    from: "Mailroom <noreply@localhost>",
    to: "Ada Lovelace <ada@example.com>",
    cc: "bob@example.com",
    subject: "Your receipt",
    html: "<p>Thanks</p>",
    text: "Thanks",
    attachments: [{ filename: "r.pdf", contentType: "application/pdf", content: Buffer.alloc(1024, 1) }],
  });
  newsletter = await deliverToCapture(server, { from: "noreply@localhost", to: "carol@example.com", subject: "March news", text: "Hello" }, { kind: "broadcast", broadcastId: 77 });
  marketingMail = await deliverToCapture(server, { from: "news@example.com", to: "ada@example.com", subject: "Marketing only", html: "<b>hi</b>" }, { channel: "marketing" });
});
afterAll(() => server.stop());

describe("happy", () => {
  test("list spans T, newest first, with the §18 object", async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect(res.body.limit).toBe(100);
    expect(res.body.offset).toBe(0);
    const [m, n, r] = res.body.data;
    expect([m.subject, n.subject, r.subject]).toEqual(["Marketing only", "March news", "Your receipt"]);
    expect(m.channel).toBe("marketing");
    expect(r).toMatchObject({
      channel: "default",
      transactional_id: receipt.outboxId,
      broadcast_id: null,
      sequence_step_id: null,
      from: expect.stringContaining("noreply@localhost"),
      to: ["ada@example.com"],
      cc: ["bob@example.com"],
      has_html: true,
      has_text: true,
      attachments: [{ filename: "r.pdf", content_type: "application/pdf", size: 1024 }],
    });
    expect(r.message_id).toMatch(/^<.+@.+>$/);
    expect(r.size).toBeGreaterThan(1024);
    expect(Date.parse(r.received_at)).toBeGreaterThan(0);
    expect(n).toMatchObject({ transactional_id: null, broadcast_id: 77, has_html: false, has_text: true, attachments: [] });
  });

  test("filters: to, subject, since, transactional_id, broadcast_id, channel selector", async () => {
    expect(idsOf((await list("?to=ADA@example.com")).body)).toHaveLength(2);
    expect((await list("?to=bob@example.com")).body.data.map((r: { subject: string }) => r.subject)).toEqual(["Your receipt"]);
    expect((await list("?subject=news")).body.data.map((r: { subject: string }) => r.subject)).toEqual(["March news"]);
    expect((await list("?subject=100%25")).body.total).toBe(0);
    expect((await list(`?transactional_id=${receipt.outboxId}`)).body.total).toBe(1);
    expect((await list("?broadcast_id=77")).body.data[0].subject).toBe("March news");
    expect((await list("?since=2999-01-01T00:00:00Z")).body.total).toBe(0);
    expect((await list("?since=2000-01-01")).body.total).toBe(3);
    expect((await list("?channel=marketing")).body.data.map((r: { subject: string }) => r.subject)).toEqual(["Marketing only"]);
    expect((await list("", marketingToken)).body.total).toBe(1);
  });

  test("offset pagination", async () => {
    const res = await list("?limit=1&offset=1");
    expect(res.body).toMatchObject({ total: 3, limit: 1, offset: 1 });
    expect(res.body.data[0].subject).toBe("March news");
    expect((await list("?offset=10")).body).toMatchObject({ data: [], total: 3 });
    const clamped = await list("?limit=1000");
    expect(clamped.body.limit).toBe(250);
    expect(clamped.body.warnings[0]).toMatchObject({ code: "value_adjusted", param: "limit" });
  });

  test("show adds headers, html and text; the capture header is not kept", async () => {
    const id = (await list(`?transactional_id=${receipt.outboxId}`)).body.data[0].id;
    const res = await server.request("GET", `/api/v1/captured_messages/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(id);
    expect(res.body.html).toBe("<p>Thanks</p>");
    expect(res.body.text.trim()).toBe("Thanks");
    const names = res.body.headers.map((h: [string, string]) => h[0].toLowerCase());
    expect(names).toContain("from");
    expect(names).toContain("subject");
    expect(names).not.toContain("x-mailroom-capture");
    expect(res.body.headers.find((h: [string, string]) => h[0] === "Subject")[1]).toBe("Your receipt");
    const json = await server.request("GET", `/api/v1/captured_messages/${id}.json`);
    expect(json.body.id).toBe(id);
  });

  test("raw is message/rfc822 with the MIME as received", async () => {
    const id = (await list("?subject=March")).body.data[0].id;
    const res = await server.request("GET", `/api/v1/captured_messages/${id}/raw`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("message/rfc822");
    expect(res.text).toContain("Subject: March news");
    expect(res.text).not.toContain("X-Mailroom-Capture");
    const row = (await list("?subject=March")).body.data[0];
    expect(Buffer.byteLength(res.text)).toBe(row.size);
  });

  test("delete one, then delete all in T", async () => {
    const extra = await deliverToCapture(server, { from: "noreply@localhost", to: "x@example.com", subject: "Disposable", text: "x" });
    const id = (await list(`?transactional_id=${extra.outboxId}`)).body.data[0].id;
    const del = await server.request("DELETE", `/api/v1/captured_messages/${id}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ message: "Captured message deleted successfully" });
    expect((await server.request("GET", `/api/v1/captured_messages/${id}`)).status).toBe(404);

    const scoped = await server.request("DELETE", "/api/v1/captured_messages", { token: marketingToken });
    expect(scoped.body).toEqual({ deleted: 1 });
    expect((await list()).body.total).toBe(2);
    const all = await server.request("DELETE", "/api/v1/captured_messages?channel=default");
    expect(all.body).toEqual({ deleted: 2 });
    expect(server.deps.db.select().from(captured_messages).all()).toHaveLength(0);
    // Re-seed for the remaining describe blocks.
    receipt = await deliverToCapture(server, { from: "noreply@localhost", to: "ada@example.com", subject: "Your receipt", text: "x" });
    marketingMail = await deliverToCapture(server, { from: "news@example.com", to: "ada@example.com", subject: "Marketing only", text: "x" }, { channel: "marketing" });
    void newsletter;
  });
});

describe("errors", () => {
  test("404 for unknown, non-numeric and out-of-T ids", async () => {
    for (const path of ["/captured_messages/999999", "/captured_messages/abc", "/captured_messages/999999/raw"]) {
      const res = await server.request("GET", "/api/v1" + path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: "Captured message not found" });
    }
    const defaultId = (await list(`?transactional_id=${receipt.outboxId}`)).body.data[0].id;
    for (const [method, path] of [["GET", `/captured_messages/${defaultId}`], ["GET", `/captured_messages/${defaultId}/raw`], ["DELETE", `/captured_messages/${defaultId}`]]) {
      const res = await server.request(method, "/api/v1" + path, { token: marketingToken });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: "Captured message not found" });
    }
    expect((await server.request("GET", `/api/v1/captured_messages/${defaultId}`)).status).toBe(200);
  });

  test("422 for bad filter values; unknown params are warned", async () => {
    const since = await list("?since=yesterday");
    expect(since.status).toBe(422);
    expect(since.body.errors).toEqual({ since: ["is not a valid ISO-8601 time"] });
    expect((await list("?transactional_id=abc")).status).toBe(422);
    expect((await list("?limit=0")).status).toBe(422);
    const warned = await list("?colour=blue");
    expect(warned.status).toBe(200);
    expect(warned.body.warnings).toEqual([expect.objectContaining({ code: "unrecognized_parameter", param: "colour" })]);
  });

  test("channel selector outside the token's channels → 403", async () => {
    const res = await list("?channel=default", marketingToken);
    expect(res.status).toBe(403);
    expect(res.body.message).toBe("Token is not scoped to channel(s): default");
  });
});

describe("permissions", () => {
  test("reads need email_servers_read, deletes email_servers_write", async () => {
    const readOnly = createTestToken(server.deps, { preset: "read_only" });
    const writeOnly = createTestToken(server.deps, { permissions: ["email_servers_write"] });
    const id = (await list(`?transactional_id=${receipt.outboxId}`)).body.data[0].id;

    expect((await list("", readOnly)).status).toBe(200);
    expect((await server.request("GET", `/api/v1/captured_messages/${id}/raw`, { token: readOnly })).status).toBe(200);
    const del = await server.request("DELETE", `/api/v1/captured_messages/${id}`, { token: readOnly });
    expect(del.status).toBe(403);
    expect(del.body.required_permission).toBe("email_servers_write");
    expect((await server.request("DELETE", "/api/v1/captured_messages", { token: readOnly })).status).toBe(403);

    const read = await list("", writeOnly);
    expect(read.status).toBe(403);
    expect(read.body.required_permission).toBe("email_servers_read");
    expect((await server.request("GET", `/api/v1/captured_messages/${id}`, { token: server.defaultToken })).status).toBe(403);
    expect((await list("", null)).status).toBe(401);
    // Nothing was deleted by the refused calls.
    expect((await server.request("GET", `/api/v1/captured_messages/${id}`)).status).toBe(200);
  });
});
