import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(() => server.stop());

describe("happy", () => {
  test("healthz answers with version and db status", async () => {
    const res = await server.request("GET", "/healthz", { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok", version: "1.0.0", db: "ok" });
    expect(res.headers.get("content-type")).toMatch(/^application\/json; ?charset=utf-8$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });
  test("healthz: HEAD answers without a body, echoes the request id; other methods → 405 with Allow", async () => {
    const head = await server.request("HEAD", "/healthz", { token: null, headers: { "x-request-id": "probe-1" } });
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
    expect(head.headers.get("x-request-id")).toBe("probe-1");
    const post = await server.request("POST", "/healthz", { token: null });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect(post.body).toEqual({ error: "Method Not Allowed" });
    expect(server.log.text()).toContain('"path":"/healthz","status":405');
  });
  test("whoami of the default transactional token", async () => {
    const res = await server.request("GET", "/api/v1/whoami", { token: server.defaultToken });
    expect(res.status).toBe(200);
    expect(res.body.token.permissions.transactionals_write).toBe(true);
    expect(res.body.channel.slug).toBe("default");
  });
});
