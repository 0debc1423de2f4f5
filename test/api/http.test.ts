/** The HTTP edge: error model (§1.4), request normalisation (§1.2) and common headers (§1.3). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { startTestServer, tempDir, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => (server = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0" } })));
afterAll(() => server.stop());

const raw = (path: string, init: RequestInit = {}) => server.fetch(path, init);
const auth = () => ({ authorization: `Bearer ${server.adminToken}` });

/** Sends `text` as is over a TCP socket (headers a fetch client would fix) and returns the whole response. */
const rawHttp = (text: string) =>
  new Promise<{ status: string; body: any }>((resolve, reject) => {
    const socket = connect(Number(new URL(server.url).port), "127.0.0.1", () => socket.write(text));
    let response = "";
    socket.on("data", (d) => (response += d.toString()));
    socket.on("end", () => {
      const body = response.slice(response.indexOf("\r\n\r\n") + 4);
      resolve({ status: response.split("\r\n")[0]!, body: body ? JSON.parse(body) : null });
    });
    socket.on("error", reject);
  });

describe("happy", () => {
  test("responses carry JSON content type, no-store and a request id (client's if sane)", async () => {
    const res = await raw("/api/v1/whoami", { headers: { ...auth(), "x-request-id": "abc-123" } });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toBe("abc-123");
    const generated = await raw("/api/v1/whoami", { headers: { ...auth(), "x-request-id": "x".repeat(200) } });
    expect(generated.headers.get("x-request-id")).not.toBe("x".repeat(200));
    expect(generated.headers.get("x-request-id")!.length).toBeGreaterThan(4);
    // Exactly as §1.3 spells it, on lists, creates, HEAD and errors alike; text routes keep their own.
    const created = await raw("/api/v1/channels", { method: "POST", headers: auth(), body: JSON.stringify({ name: "Content Type" }) });
    expect(created.status).toBe(201);
    for (const r of [created, await raw("/api/v1/channels", { headers: auth() }), await raw("/api/v1/whoami", { method: "HEAD", headers: auth() }), await raw("/api/v1/nothing", { headers: auth() })]) {
      expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
    }
    expect((await raw("/api/v1/skill", { headers: auth() })).headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  test(".json suffix, trailing slash, HEAD and PUT = PATCH", async () => {
    expect((await raw("/api/v1/whoami.json", { headers: auth() })).status).toBe(200);
    expect((await raw("/api/v1/whoami/", { headers: auth() })).status).toBe(200);
    const head = await raw("/api/v1/whoami", { method: "HEAD", headers: auth() });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const put = await raw("/api/v1/channels/default.json", { method: "PUT", headers: { ...auth(), "content-type": "application/json" }, body: JSON.stringify({ channel: { sender_name: "Put Name" } }) });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { sender_name: string }).sender_name).toBe("Put Name");
    expect((await raw("/api/v1/whoami.xml", { headers: auth() })).status).toBe(404);
  });

  test("no Content-Type is parsed as JSON; query params merge with the body; DELETE bodies are parsed", async () => {
    const created = await raw("/api/v1/channels", { method: "POST", headers: auth(), body: JSON.stringify({ name: "Temp" }) });
    expect(created.status).toBe(201);
    const wrongConfirm = await raw("/api/v1/channels/temp", { method: "DELETE", headers: auth(), body: JSON.stringify({ confirm: "nope" }) });
    expect(wrongConfirm.status).toBe(422);
    const fromQuery = await raw("/api/v1/channels/temp?confirm=temp", { method: "DELETE", headers: auth() });
    expect(fromQuery.status).toBe(200);
    expect(await fromQuery.json()).toEqual({ message: "Channel deleted successfully" });
  });

  test("wrapped and top-level fields both work; wrapped wins", async () => {
    const res = await server.request("POST", "/api/v1/channels", { body: { name: "Top", channel: { name: "Wrapped" }, sender_name: "S" } });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe("Wrapped");
    expect(res.body.sender_name).toBe("S");
    const warned = await server.request("POST", "/api/v1/channels", { body: { channel: { name: "Warn", foo: 1 } } });
    expect(warned.body.warnings).toEqual([{ code: "unrecognized_parameter", param: "channel.foo", message: "channel.foo is not a parameter of this route" }]);
  });
});

describe("errors", () => {
  test.each([
    { name: "bad JSON", body: "{bad", type: "application/json", status: 400, expected: { error: "Invalid JSON body" } },
    { name: "non-object JSON", body: "[1,2]", type: "application/json", status: 400, expected: { error: "Invalid JSON body" } },
    { name: "form body", body: "a=1", type: "application/x-www-form-urlencoded", status: 415, expected: { error: "Unsupported Media Type", message: "Send JSON with Content-Type: application/json" } },
    { name: "csv outside bulk", body: "email\na@b.co", type: "text/csv", status: 415, expected: { error: "Unsupported Media Type", message: "Send JSON with Content-Type: application/json" } },
  ])("$name → $status", async ({ body, type, status, expected }) => {
    const res = await raw("/api/v1/channels", { method: "POST", headers: { ...auth(), "content-type": type }, body });
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual(expected);
  });

  test("oversized body → 413, long query → 414, huge headers → 431", async () => {
    const big = await raw("/api/v1/channels", { method: "POST", headers: { ...auth(), "content-type": "application/json" }, body: JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) }) });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: "Payload Too Large", message: "Request body exceeds 2097152 bytes" });
    const longQuery = await raw(`/api/v1/whoami?x=${"a".repeat(8200)}`, { headers: auth() });
    expect(longQuery.status).toBe(414);
    expect(((await longQuery.json()) as { error: string }).error).toBe("URI Too Long");
    const headers = await raw("/api/v1/whoami", { headers: { ...auth(), "x-big": "a".repeat(17 * 1024) } });
    expect(headers.status).toBe(431);
    expect(((await headers.json()) as { error: string }).error).toBe("Request Header Fields Too Large");
  });

  test("unknown route → 404, wrong method → 405 with Allow, bad query syntax → 400", async () => {
    const missing = await raw("/api/v1/nothing-here", { headers: auth() });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "Not Found" });
    const wrong = await raw("/api/v1/whoami", { method: "DELETE", headers: auth() });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, HEAD");
    expect(await wrong.json()).toEqual({ error: "Method Not Allowed" });
    const query = await raw("/api/v1/whoami?a=%zz", { headers: auth() });
    expect(query.status).toBe(400);
    expect(await query.json()).toEqual({ error: "Invalid query string" });
  });

  test("every list warns about a query parameter it does not define; filters, pages and selectors are quiet", async () => {
    const lists = ["access_tokens", "channels", "email_servers", "templates", "transactionals", "segments", "suppressions", "global_suppressions", "subscribers", "audit_log", "captured_messages"];
    for (const list of lists) {
      const res = await raw(`/api/v1/${list}?bogus=1&page=1&limit=5&channel=default`, { headers: auth() });
      expect(res.status).toBe(200);
      const warnings = ((await res.json()) as { warnings?: { code: string; param: string }[] }).warnings ?? [];
      expect({ list, warnings: warnings.filter((w) => w.code === "unrecognized_parameter").map((w) => w.param) }).toEqual({ list, warnings: ["bogus"] });
    }
    const filtered = await raw("/api/v1/transactionals?status=sent&source=api&recipient_email=a@b.co", { headers: auth() });
    expect(((await filtered.json()) as { warnings?: unknown }).warnings).toBeUndefined();
  });

  test("a write waits for another process's write lock (busy_timeout) instead of failing with 503", async () => {
    // Another process (as the CLI would be) holds the write lock for 0.7 s.
    const script = `const db = new (require("bun:sqlite").Database)(${JSON.stringify(join(server.dataDir, "mailroom.db"))});
db.exec("PRAGMA busy_timeout = 5000"); db.exec("BEGIN IMMEDIATE"); console.log("locked"); await Bun.sleep(700); db.exec("COMMIT");`;
    const holder = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe" });
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("locked");
    // Reads first (the channel, the slug), then writes: the path a deferred BEGIN refused at once.
    const [template, channel] = await Promise.all([
      raw("/api/v1/templates", { method: "POST", headers: auth(), body: JSON.stringify({ channel: "default", label: "while locked", subject: "s", body: "b" }) }),
      raw("/api/v1/channels", { method: "POST", headers: auth(), body: JSON.stringify({ name: "While Locked" }) }),
    ]);
    expect([template.status, channel.status]).toEqual([201, 201]);
    expect(await holder.exited).toBe(0);
  });

  test("a short Host header (1–3 characters, e.g. a LAN name) still reaches every route", async () => {
    const get = (host: string, path: string) =>
      rawHttp(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${server.adminToken}\r\nConnection: close\r\n\r\n`);
    for (const host of ["a", "mx", "web", "ab:80"]) {
      expect((await get(host, "/healthz")).status).toBe("HTTP/1.1 200 OK");
      expect((await get(host, "/api/v1/whoami.json?x=1")).status).toBe("HTTP/1.1 200 OK");
    }
  });

  test("HTTP/1.0 without a Host, or an empty Host, is served; an unusable Host → 400 JSON, never a 500", async () => {
    const token = `Authorization: Bearer ${server.adminToken}\r\n`;
    expect(await rawHttp("GET /healthz HTTP/1.0\r\n\r\n")).toEqual({ status: "HTTP/1.1 200 OK", body: { status: "ok", version: expect.any(String), db: "ok" } });
    expect((await rawHttp(`GET /api/v1/whoami.json?x=1 HTTP/1.0\r\n${token}\r\n`)).status).toBe("HTTP/1.1 200 OK");
    expect(await rawHttp("OPTIONS / HTTP/1.0\r\n\r\n")).toEqual({ status: "HTTP/1.1 405 Method Not Allowed", body: { error: "Method Not Allowed" } });
    // A body and a PUT (rewritten to PATCH) through the same placeholder host.
    const channel = JSON.stringify({ name: "Hostless" });
    const created = await rawHttp(`POST /api/v1/channels HTTP/1.0\r\n${token}Content-Type: application/json\r\nContent-Length: ${channel.length}\r\n\r\n${channel}`);
    expect([created.status, created.body.slug]).toEqual(["HTTP/1.1 201 Created", "hostless"]);
    const rename = JSON.stringify({ sender_name: "Renamed" });
    const put = await rawHttp(`PUT /api/v1/channels/hostless HTTP/1.0\r\n${token}Content-Length: ${rename.length}\r\n\r\n${rename}`);
    expect([put.status, put.body.sender_name]).toEqual(["HTTP/1.1 200 OK", "Renamed"]);
    for (const host of ["", "[::1]:8080", "mail.example.com:3000", "a:", "under_score.local"]) {
      expect({ host, ...(await rawHttp(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)) }).toMatchObject({ host, status: "HTTP/1.1 200 OK" });
    }
    const invalid = { error: "Invalid Host header", message: "Host must be a host name or IP address, with an optional port" };
    for (const host of ["x:1@127.0.0.1", "a b", "a/b", "a?b", "a#b", "[::1", "[zz]", "a:b", "a:99999", "%zz", "b\u00fccher.example"]) {
      for (const path of ["/healthz", "/api/v1/channels"]) {
        const res = await rawHttp(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${token}Content-Length: 2\r\nConnection: close\r\n\r\n{}`);
        expect({ host, path, ...res }).toEqual({ host, path, status: "HTTP/1.1 400 Bad Request", body: invalid });
      }
    }
  });

  test("a body key named like an Object.prototype member is an unrecognized parameter, never a 500", async () => {
    const res = await server.request("POST", "/api/v1/channels", { body: { name: "Proto", toString: 1, channel: { constructor: "x" } } });
    expect(res.status).toBe(201);
    expect(res.body.warnings.map((w: { param: string }) => w.param)).toEqual(["toString", "channel.constructor"]);
  });

  test("a body that is not valid UTF-8 → 400, nothing stored with replacement characters", async () => {
    const body = new Uint8Array([...new TextEncoder().encode('{"name":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}')]);
    const res = await raw("/api/v1/channels", { method: "POST", headers: { ...auth(), "content-type": "application/json" }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "Invalid JSON body", message: "The body is not valid UTF-8" });
    expect(server.sql("SELECT count(*) AS n FROM channels WHERE name LIKE ?", "%\uFFFD%")[0].n).toBe(0);
  });

  test("no query parameter is dropped however many there are: api_key after 1,000 others is still refused", async () => {
    const filler = Array.from({ length: 1000 }, (_, i) => `p${i}=1`).join("&");
    const res = await raw(`/api/v1/whoami?${filler}&api_key=x`, { headers: auth() });
    expect(res.status).toBe(401);
    const list = await raw(`/api/v1/access_tokens?${filler}&limit=abc`, { headers: auth() });
    expect(list.status).toBe(422);
  });

  test("a 500 hides internals and carries the request id", async () => {
    // A table dropped under a running server makes the next query fail unexpectedly.
    const s = await startTestServer();
    s.deps.database.raw.prepare("DROP TABLE audit_log").run();
    const res = await s.request("GET", "/api/v1/audit_log");
    expect(res.status).toBe(500);
    expect(res.body.error).toBe("Server error (500): internal");
    expect(res.body.request_id).toBe(res.headers.get("x-request-id"));
    expect(res.text).not.toContain("audit_log");
    await s.stop();
  });
});

describe("tls", () => {
  test("serves HTTPS with HSTS when a cert and key are configured", async () => {
    const dir = tempDir();
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"], { stdio: "ignore" });
    const s = await startTestServer({ env: { MAILROOM_TLS_CERT: cert, MAILROOM_TLS_KEY: key } });
    expect(s.url).toStartWith("https://");
    const res = await fetch(`${s.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${s.defaultToken}` }, tls: { rejectUnauthorized: false } });
    expect(res.status).toBe(200);
    expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000");
    await s.stop();
  });
});

describe("shutdown", () => {
  test("a graceful stop finishes the request in flight, then refuses new connections", async () => {
    const s = await startTestServer({ env: { MAILROOM_RATE_LIMIT_GENERAL: "0" } });
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ email: `user${i}@example.com`, tags: ["bulk"], custom_data: { n: i } }));
    const inFlight = s.request("POST", "/api/v1/subscribers/bulk", { body: { channel: "default", subscribers: rows } });
    await Bun.sleep(50);
    const stopped = s.running.stop();
    const res = await inFlight;
    await stopped;
    expect(res.status).toBe(200);
    expect(res.body.created).toBe(10_000);
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });
});
