import { afterEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { count } from "drizzle-orm";
import { captured_messages, captured_messages_count } from "@/db/schema";
import { fakeClock, startTestServer, type TestServer } from "../harness";
import { captureClient, deliverToCapture, eventually, SmtpScript } from "./helpers";

let server: TestServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

const capturedCount = (s: TestServer) => s.deps.db.select({ n: count() }).from(captured_messages).get()!.n;

describe("happy", () => {
  test("a fresh instance delivers a transactional into capture with zero configuration", async () => {
    server = await startTestServer();
    expect(server.capturePort).toBeGreaterThan(0);
    expect(server.deps.capturePort).toBe(server.capturePort!);
    const sent = await server.request("POST", "/api/v1/transactionals", {
      token: server.defaultToken,
      body: { to: "Ada <ada@example.com>", subject: "Welcome", body: "<p>Hello Ada</p>" },
    });
    expect(sent.status).toBe(201);
    const listed = await eventually(async () => {
      const res = await server!.request("GET", `/api/v1/captured_messages?transactional_id=${sent.body.id}`);
      return res.body.total === 1 ? res.body.data[0] : null;
    });
    expect(listed).toMatchObject({ channel: "default", transactional_id: sent.body.id, to: ["ada@example.com"], subject: "Welcome", has_html: true });
    expect(listed.message_id).toBe(sent.body.message_id);

    const shown = await server.request("GET", `/api/v1/captured_messages/${listed.id}`);
    expect(shown.body.html).toContain("Hello Ada");
    const raw = await server.request("GET", `/api/v1/captured_messages/${listed.id}/raw`);
    expect(raw.headers.get("content-type")).toStartWith("message/rfc822");
    expect(raw.text).toContain("Subject: Welcome");
    const status = await eventually(async () => {
      const res = await server!.request("GET", `/api/v1/transactionals/${sent.body.id}`, { token: server!.defaultToken });
      return res.body.status === "sent" ? res.body : null;
    });
    expect(status.sent_at).not.toBeNull();

    expect((await server.request("DELETE", `/api/v1/captured_messages/${listed.id}`)).status).toBe(200);
    expect((await server.request("GET", "/api/v1/captured_messages")).body.total).toBe(0);
  });

  test("protocol surface: greeting, no AUTH/STARTTLS, 250 2.0.0 Ok: captured as <id>", async () => {
    server = await startTestServer();
    const s = await SmtpScript.open(server.capturePort!);
    expect(await s.next()).toBe("220 localhost Mailroom ESMTP");
    const ehlo = await s.send("EHLO client.test");
    expect(ehlo).toContain("ENHANCEDSTATUSCODES");
    expect(ehlo).toContain("SIZE 20971520");
    expect(ehlo).not.toContain("AUTH");
    expect(ehlo).not.toContain("STARTTLS");
    s.close();
    const { response } = await deliverToCapture(server, { from: "anyone@anywhere.test", to: "someone@else.test", subject: "Any envelope", text: "x" });
    const id = (await server.request("GET", "/api/v1/captured_messages")).body.data[0].id;
    expect(response).toBe(`250 2.0.0 Ok: captured as ${id}`);
  });

  test("retention keeps the newest MAILROOM_CAPTURE_MAX", async () => {
    server = await startTestServer({ env: { MAILROOM_CAPTURE_MAX: "2" } });
    for (const subject of ["one", "two", "three"]) await deliverToCapture(server, { from: "a@localhost", to: "b@example.com", subject, text: "x" });
    const res = await server.request("GET", "/api/v1/captured_messages");
    expect(res.body.data.map((r: { subject: string }) => r.subject)).toEqual(["three", "two"]);
  });

  test("retention counts every writer: after an API delete the next capture trims nothing", async () => {
    server = await startTestServer({ env: { MAILROOM_CAPTURE_MAX: "2" } });
    for (const subject of ["one", "two", "three"]) await deliverToCapture(server, { from: "a@localhost", to: "b@example.com", subject, text: "x" });
    const newest = (await server.request("GET", "/api/v1/captured_messages")).body.data[0].id;
    expect((await server.request("DELETE", `/api/v1/captured_messages/${newest}`)).status).toBe(200);
    await deliverToCapture(server, { from: "a@localhost", to: "b@example.com", subject: "four", text: "x" });
    const res = await server.request("GET", "/api/v1/captured_messages");
    expect(res.body.data.map((r: { subject: string }) => r.subject)).toEqual(["four", "two"]);
    const stored = server.deps.db.select().from(captured_messages_count).get();
    expect(stored).toEqual({ id: 1, total: 2 });
    expect((await server.request("DELETE", "/api/v1/captured_messages")).status).toBe(200);
    expect(server.deps.db.select().from(captured_messages_count).get()!.total).toBe(capturedCount(server));
    expect(capturedCount(server)).toBe(0);
  });

  test("retention drops messages older than MAILROOM_CAPTURE_RETENTION_DAYS", async () => {
    const clock = fakeClock();
    server = await startTestServer({ clock, env: { MAILROOM_CAPTURE_RETENTION_DAYS: "7" } });
    await deliverToCapture(server, { from: "a@localhost", to: "b@example.com", subject: "old", text: "x" });
    clock.advance(6 * 86_400_000);
    await deliverToCapture(server, { from: "a@localhost", to: "b@example.com", subject: "recent", text: "x" });
    expect(capturedCount(server)).toBe(2);
    clock.advance(2 * 86_400_000);
    await deliverToCapture(server, { from: "a@localhost", to: "b@example.com", subject: "new", text: "x" });
    const res = await server.request("GET", "/api/v1/captured_messages");
    expect(res.body.data.map((r: { subject: string }) => r.subject)).toEqual(["new", "recent"]);
  });
});

describe("errors", () => {
  test("a message without a valid X-Mailroom-Capture header → 554, nothing stored", async () => {
    server = await startTestServer();
    const client = captureClient(server);
    const missing = await client.sendMail({ from: "a@localhost", to: "b@example.com", subject: "no header", text: "x" }).catch((e) => e);
    expect(missing.responseCode).toBe(554);
    expect(missing.response).toBe("554 5.7.1 Capture accepts only Mailroom deliveries");

    const forged = await client
      .sendMail({ from: "a@localhost", to: "b@example.com", subject: "forged", text: "x", headers: { "X-Mailroom-Capture": "1.AAAAAAAAAAAAAAAAAAAAAA" } })
      .catch((e) => e);
    expect(forged.response).toBe("554 5.7.1 Capture accepts only Mailroom deliveries");
    expect(capturedCount(server)).toBe(0);
  });

  test("a validly signed header for a message that does not exist → 554", async () => {
    server = await startTestServer();
    const { captureHeaderValue } = await import("@/lib/links");
    const { linkSecret } = await import("@/db/settings");
    const err = await captureClient(server)
      .sendMail({ from: "a@localhost", to: "b@example.com", subject: "x", text: "x", headers: { "X-Mailroom-Capture": captureHeaderValue(linkSecret(server.deps), 424242) } })
      .catch((e) => e);
    expect(err.responseCode).toBe(554);
    expect(capturedCount(server)).toBe(0);
  });

  test("listens on loopback only", async () => {
    server = await startTestServer();
    const external = (await import("node:os")).networkInterfaces();
    const address = Object.values(external).flat().find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (!address) return; // no second interface on this machine: the bind address is asserted below instead
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(server!.capturePort!, address, () => resolve("connected"));
      socket.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    expect(outcome).toBe("ECONNREFUSED");
  });

  test("MAILROOM_CAPTURE=0 runs no capture server", async () => {
    server = await startTestServer({ env: { MAILROOM_CAPTURE: "0" } });
    expect(server.capturePort).toBeNull();
    expect(server.deps.capturePort).toBeUndefined();
  });
});
