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
  });
  test("whoami of the default transactional token", async () => {
    const res = await server.request("GET", "/api/v1/whoami", { token: server.defaultToken });
    expect(res.status).toBe(200);
    expect(res.body.token.permissions.transactionals_write).toBe(true);
    expect(res.body.channel.slug).toBe("default");
  });
});
