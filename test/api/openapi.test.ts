/**
 * GET /api/v1/openapi.json — generated from the route contracts — passes an OpenAPI 3.1 validator
 * and describes every /api/v1 route; the response validator that checks all API test traffic
 * (harness → response-validator.ts) really refuses drift; /api/docs renders it from the binary's
 * own files, with no request to any other origin.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { chromium } from "playwright-core";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { apiRoutes, createApp } from "@/app";
import { EVENT_TYPES } from "@/features/events/schemas";
import { fakeClock, startTestServer, type TestServer } from "../harness";
import { checkResponse } from "../response-validator";

let server: TestServer;
let doc: any;

setDefaultTimeout(30_000);

beforeAll(async () => {
  server = await startTestServer();
  doc = (await server.request("GET", "/api/v1/openapi.json", { token: null })).body;
});
afterAll(() => server.stop());

const toTemplate = (path: string) => path.replace(/:([a-z_]+)/g, "{$1}");

describe("the document", () => {
  test("is served without a token, with or without .json, and is a valid OpenAPI 3.1 document", async () => {
    const bare = await server.request("GET", "/api/v1/openapi", { token: null });
    expect(bare.status).toBe(200);
    expect(bare.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(bare.body).toEqual(doc);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect({ valid: result.valid, errors: result.errors }).toEqual({ valid: true, errors: undefined });
    expect(validator.version).toBe("3.1");
    expect(doc.servers).toEqual([{ url: server.deps.config.publicUrl }]);
  });

  test("has every /api/v1 route with its permission, parameters and the shared error responses", () => {
    const routes = apiRoutes(createApp(server.deps).routes as never);
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) {
      const op = doc.paths[toTemplate(r.path)]?.[r.method.toLowerCase()];
      expect({ route: `${r.method} ${r.path}`, documented: !!op }).toEqual({ route: `${r.method} ${r.path}`, documented: true });
      expect(op["x-required-permission"]).toBe(r.permissions[0] ?? null);
      expect(typeof op.summary).toBe("string");
      const pathParams = [...r.path.matchAll(/:([a-z_]+)/g)].map((m) => m[1]);
      expect(op.parameters?.filter((p: any) => p.in === "path").map((p: any) => p.name) ?? []).toEqual(pathParams);
      const token = r.access !== "public";
      for (const status of ["400", "404", "413", "422", "500", "503", ...(token ? ["401", "403", "429"] : [])]) {
        expect(op.responses[status]).toEqual({ $ref: `#/components/responses/${status}` });
      }
      expect(op.security).toEqual(token ? [{ bearer: [] }] : []);
    }
  });

  test("a send route documents its body, quota and rate-limit headers, idempotency and 402/409", () => {
    const send = doc.paths["/api/v1/transactionals"].post;
    expect(send["x-required-permission"]).toBe("transactionals_write");
    expect(send["x-rate-bucket"]).toBe("send");
    const body = send.requestBody.content["application/json"].schema;
    expect(body.properties.to).toMatchObject({ type: "string" });
    expect(body.properties.transactional.properties.subject).toBeDefined();
    expect(body.anyOf).toEqual([{ required: ["to"] }, { required: ["transactional"], properties: { transactional: { required: ["to"] } } }]);
    expect(Object.keys(send.responses["201"].headers)).toEqual(expect.arrayContaining(["X-RateLimit-Remaining", "RateLimit", "X-Quota-Used", "X-Quota-Remaining"]));
    expect(send.responses["402"]).toEqual({ $ref: "#/components/responses/402" });
    expect(send.responses["409"]).toEqual({ $ref: "#/components/responses/409" });
    expect(send.parameters).toContainEqual({ $ref: "#/components/parameters/Idempotency-Key" });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.responses["429"].headers["Retry-After"]).toBeDefined();
  });

  test("list routes document their pagination and filters as query parameters", () => {
    const resolve = (p: any) => (p.$ref ? doc.components.parameters[p.$ref.split("/").pop()] : p);
    const names = (op: any) => op.parameters.map(resolve).filter((p: any) => p.in === "query").map((p: any) => p.name);
    expect(names(doc.paths["/api/v1/subscribers"].get)).toEqual(expect.arrayContaining(["page", "per_page", "tags", "custom_data", "created_after", "channel"]));
    expect(names(doc.paths["/api/v1/transactionals"].get)).toEqual(expect.arrayContaining(["limit", "offset", "status", "source", "recipient_email"]));
  });
});

describe("webhooks", () => {
  test("every event type is documented as the signed POST an endpoint receives", () => {
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
    const delivered = doc.webhooks["email.delivered"].post;
    expect(delivered.parameters.map((p: any) => p.name)).toEqual(["broadcast-webhook-id", "broadcast-webhook-timestamp", "broadcast-webhook-signature"]);
    expect(delivered.requestBody.content["application/json"].schema.properties.type).toEqual({ const: "email.delivered", type: "string" });
  });

  test("what a real endpoint receives matches the documented payload", async () => {
    const received: { type: string; body: unknown }[] = [];
    const receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const body = (await req.json()) as { type: string };
        received.push({ type: body.type, body });
        return new Response("ok");
      },
    });
    const clock = fakeClock(Date.now());
    const s = await startTestServer({ clock, startJobs: false, env: { MAILROOM_ALLOW_HTTP_WEBHOOKS: "1" } });
    try {
      const types = ["subscriber.created", "subscriber.subscribed", "subscriber.updated", "subscriber.unsubscribed"];
      const created = await s.request("POST", "/api/v1/webhook_endpoints", {
        body: { channel: "default", webhook_endpoint: { url: `http://127.0.0.1:${receiver.port}/hook`, event_types: types } },
      });
      expect(created.status).toBe(201);
      expect((await s.request("POST", `/api/v1/webhook_endpoints/${created.body.id}/test`)).body.success).toBe(true);
      const subscriber = { channel: "default", email: "hook@example.com" };
      await s.request("POST", "/api/v1/subscribers", { body: { ...subscriber, first_name: "Ada", tags: ["a"] } });
      await s.request("PATCH", "/api/v1/subscribers", { body: { ...subscriber, subscriber: { last_name: "Lovelace" } } });
      await s.request("POST", "/api/v1/subscribers/unsubscribe", { body: subscriber });
      await s.running.jobs.get("webhooks.dispatch")!.tick(clock.now());
      await s.running.jobs.get("webhooks.delivery")!.tick(clock.now());
      expect(received.map((r) => r.type).sort()).toEqual(["test.webhook", ...types].sort());
      const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
      for (const { type, body } of received) {
        const validate = ajv.compile(doc.webhooks[type].post.requestBody.content["application/json"].schema);
        expect({ type, valid: validate(body), errors: validate.errors ?? null }).toEqual({ type, valid: true, errors: null });
      }
    } finally {
      await s.stop();
      receiver.stop(true);
    }
  });
});

describe("the response validator over the test traffic", () => {
  const deps = () => server.deps;
  const check = (method: string, path: string, status: number, body: unknown, type = "application/json; charset=utf-8") =>
    () => checkResponse(deps(), method, path, status, type, JSON.stringify(body));

  test("passes a documented response, including through the dashboard mirror and with .json", async () => {
    const res = await server.request("GET", "/api/v1/channels/default");
    expect(res.status).toBe(200);
    expect(check("GET", "/api/v1/channels/default.json", 200, res.body)).not.toThrow();
    expect(check("GET", "/admin/api/v1/channels/default", 200, res.body)).not.toThrow();
  });

  test("refuses a field the schema does not know, a missing or mistyped one, an undocumented status, an unknown route", async () => {
    const { body } = await server.request("GET", "/api/v1/channels/default");
    expect(check("GET", "/api/v1/channels/default", 200, { ...body, colour: "red" })).toThrow(/must NOT have additional properties/);
    const { slug: _, ...withoutSlug } = body;
    expect(check("GET", "/api/v1/channels/default", 200, withoutSlug)).toThrow(/must have required property 'slug'/);
    expect(check("GET", "/api/v1/channels/default", 200, { ...body, id: "1" })).toThrow(/must be integer/);
    expect(check("GET", "/api/v1/channels/default", 201, body)).toThrow(/status not documented for GET \/api\/v1\/channels\/\{id_or_slug\}/);
    expect(check("GET", "/api/v1/nowhere", 200, {})).toThrow(/route not in the OpenAPI document/);
    expect(check("GET", "/api/v1/channels/default", 404, { error: "Channel not found", detail: 1 })).toThrow(/additional properties/);
    expect(check("GET", "/api/v1/skill", 200, "x", "application/json")).toThrow(/content-type application\/json is not documented/);
  });

  test("warnings are allowed on every 2xx object body, in their documented shape only", () => {
    const list = { data: [], total: 0, limit: 100, offset: 0 };
    expect(check("GET", "/api/v1/templates", 200, { ...list, warnings: [{ code: "unrecognized_parameter", param: "x", message: "m" }] })).not.toThrow();
    expect(check("GET", "/api/v1/templates", 200, { ...list, warnings: [{ code: "made_up", param: "x", message: "m" }] })).toThrow();
  });
});

describe("/api/docs", () => {
  test("the page and Redoc are served from the binary with a same-origin CSP", async () => {
    const page = await server.fetch("/api/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:/);
    const html = await page.text();
    expect(html).toContain('spec-url="/api/v1/openapi.json"');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await server.fetch("/api/docs/redoc.standalone.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const js = await script.text();
    expect(js.length).toBeGreaterThan(500_000);
    expect(js).not.toContain("cdn.redoc.ly/redoc/logo");
  });

  const executablePath = process.env.CHROMIUM_PATH ?? Bun.which("chromium") ?? Bun.which("chromium-browser") ?? undefined;
  test.skipIf(!executablePath)("renders the operations in a browser without any request to another origin", async () => {
    const browser = await chromium.launch({ executablePath });
    try {
      const page = await browser.newPage();
      const origins = new Set<string>();
      page.on("request", (r) => void origins.add(new URL(r.url()).origin));
      const violations: string[] = [];
      page.on("console", (m) => m.type() === "error" && violations.push(m.text()));
      await page.goto(`${server.url}/api/docs`);
      await page.locator("h2", { hasText: "Send a transactional email" }).first().waitFor({ timeout: 20_000 });
      if (process.env.MAILROOM_SCREENSHOTS) await page.screenshot({ path: process.env.MAILROOM_SCREENSHOTS });
      expect(await page.title()).toBe("Mailroom API");
      expect([...origins].filter((o) => o !== server.url && !o.startsWith("blob:") && o !== "null")).toEqual([]);
      expect(violations.filter((v) => /Content Security Policy/i.test(v))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
