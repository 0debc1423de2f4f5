import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { messages, templates } from "@/db/schema";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  createTestChannel(server.deps, "Marketing");
});
afterAll(() => server.stop());

const create = (body: Record<string, unknown>, token?: string) =>
  server.request("POST", "/api/v1/templates", { body: { channel: "default", ...body }, token });

describe("happy", () => {
  test("create returns 201 with the full object; wrapped fields win", async () => {
    const res = await create({
      label: "ignored",
      template: { label: "Welcome", subject: "Hello {{ first_name }}", body: "<h1>Hi {{ subscriber.full_name }}</h1>", preheader: "Pre" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      channel: "default",
      label: "Welcome",
      subject: "Hello {{ first_name }}",
      preheader: "Pre",
      body: "<h1>Hi {{ subscriber.full_name }}</h1>",
      html_body: true,
      template_purpose: "general",
      confirmation_text: null,
      default_confirmation: false,
      confirmation_page_settings: {},
    });
    expect(typeof res.body.id).toBe("number");
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // The top-level label lost to the wrapped one, and the response says so.
    const { warnings, ...created } = res.body;
    expect(warnings).toEqual([{ code: "parameter_overridden", param: "label", message: "label was also given as template.label; template.label was used" }]);
    const get = await server.request("GET", `/api/v1/templates/${res.body.id}.json`);
    expect(get.status).toBe(200);
    expect(get.body).toEqual(created);
  });

  test("list is ordered by label then id, offset-paginated, spans T", async () => {
    await create({ label: "b-list" });
    await create({ label: "a-list" });
    await server.request("POST", "/api/v1/templates", { body: { channel: "marketing", label: "a-list" } });
    const res = await server.request("GET", "/api/v1/templates?limit=2&offset=0");
    expect(res.status).toBe(200);
    expect(res.body.limit).toBe(2);
    expect(res.body.offset).toBe(0);
    expect(res.body.data.map((t: any) => [t.label, t.channel])).toEqual([
      ["a-list", "default"],
      ["a-list", "marketing"],
    ]);
    const all = await server.request("GET", "/api/v1/templates?limit=250");
    const labels = all.body.data.map((t: any) => t.label.toLowerCase());
    expect(labels).toEqual([...labels].sort());
    expect(all.body.total).toBe(all.body.data.length);
    const scoped = await server.request("GET", "/api/v1/templates?channel=marketing");
    expect(scoped.body.data.map((t: any) => t.label)).toEqual(["a-list"]);
    expect(scoped.body.total).toBe(1);
  });

  test("patch changes present fields only; null clears", async () => {
    const { body: t } = await create({ label: "Patchable", subject: "S", preheader: "P" });
    const res = await server.request("PUT", `/api/v1/templates/${t.id}`, { body: { template: { subject: "New {{ email }}", preheader: null } } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ label: "Patchable", subject: "New {{ email }}", preheader: null });
    const renamed = await server.request("PATCH", `/api/v1/templates/${t.id}`, { body: { label: "Patchable" } });
    expect(renamed.status).toBe(200);
  });

  test("default_confirmation is unique per channel: setting it clears the others", async () => {
    const a = await create({ label: "Confirm A", template_purpose: "confirmation", default_confirmation: true, confirmation_text: "Yes please" });
    expect(a.status).toBe(201);
    const other = await server.request("POST", "/api/v1/templates", {
      body: { channel: "marketing", label: "Confirm M", template_purpose: "confirmation", default_confirmation: true },
    });
    const b = await create({ label: "Confirm B", template_purpose: "confirmation", default_confirmation: true });
    expect(b.body.default_confirmation).toBe(true);
    expect((await server.request("GET", `/api/v1/templates/${a.body.id}`)).body.default_confirmation).toBe(false);
    expect((await server.request("GET", `/api/v1/templates/${other.body.id}`)).body.default_confirmation).toBe(true);
    await server.request("PATCH", `/api/v1/templates/${a.body.id}`, { body: { default_confirmation: true } });
    expect((await server.request("GET", `/api/v1/templates/${b.body.id}`)).body.default_confirmation).toBe(false);
  });

  test("confirmation_page_settings are stored", async () => {
    const settings = { confirmed: { heading: "Thanks!", body: "You're in." }, expired: { heading: "Too late" } };
    const res = await create({ label: "Pages", template_purpose: "confirmation", confirmation_page_settings: settings });
    expect(res.status).toBe(201);
    expect(res.body.confirmation_page_settings).toEqual(settings);
  });

  test("delete returns a message and removes the row", async () => {
    const { body: t } = await create({ label: "Doomed" });
    const res = await server.request("DELETE", `/api/v1/templates/${t.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: "Template deleted successfully" });
    expect(server.deps.db.select().from(templates).where(eq(templates.id, t.id)).get()).toBeUndefined();
    expect((await server.request("GET", `/api/v1/templates/${t.id}`)).status).toBe(404);
  });

  test("unknown parameters are warned about", async () => {
    const res = await create({ label: "Warned", template: { colour: "red" } });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([{ code: "unrecognized_parameter", param: "template.colour", message: expect.any(String) }]);
  });
});

describe("errors", () => {
  test("label is required and unique per channel", async () => {
    const missing = await create({ subject: "x" });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual({ label: ["can't be blank"] });
    await create({ label: "Dup" });
    const dup = await create({ label: "Dup" });
    expect(dup.status).toBe(422);
    expect(dup.body).toEqual({ error: "Label has already been taken", errors: { label: ["has already been taken"] } });
    const otherChannel = await server.request("POST", "/api/v1/templates", { body: { channel: "marketing", label: "Dup" } });
    expect(otherChannel.status).toBe(201);
    const { body: t } = await create({ label: "Dup2" });
    const rename = await server.request("PATCH", `/api/v1/templates/${t.id}`, { body: { label: "Dup" } });
    expect(rename.status).toBe(422);
    expect(rename.body.errors).toEqual({ label: ["has already been taken"] });
  });

  test("Liquid syntax errors are 422 with the line", async () => {
    const res = await create({ label: "Bad liquid", body: "<p>one</p>\n<p>two</p>\n{% if first_name %}unclosed" });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      error: "Body Liquid syntax error: tag {% if first_name %} not closed, line 3",
      errors: { body: ["Liquid syntax error: tag {% if first_name %} not closed, line 3"] },
    });
    const subject = await create({ label: "Bad subject", subject: "Hi {{ first_name", preheader: "{% include 'x' %}" });
    expect(subject.status).toBe(422);
    expect(Object.keys(subject.body.errors).sort()).toEqual(["preheader", "subject"]);
    const { body: t } = await create({ label: "Fine liquid", body: "ok" });
    const patch = await server.request("PATCH", `/api/v1/templates/${t.id}`, { body: { body: "{% endfor %}" } });
    expect(patch.status).toBe(422);
    expect((await server.request("GET", `/api/v1/templates/${t.id}`)).body.body).toBe("ok");
  });

  test("field limits and types", async () => {
    const res = await create({
      label: "x".repeat(256),
      subject: "s".repeat(999),
      preheader: "p".repeat(256),
      confirmation_text: "c".repeat(101),
      template_purpose: "marketing",
      html_body: "maybe",
    });
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.errors).sort()).toEqual(["confirmation_text", "html_body", "label", "preheader", "subject", "template_purpose"]);
    const big = await create({ label: "Big", body: "x".repeat(1024 * 1024 + 1) });
    expect(big.status).toBe(422);
    expect(big.body.errors.body[0]).toMatch(/too long/);
  });

  test("confirmation_page_settings shape is validated on dot-paths", async () => {
    const res = await create({
      label: "Bad pages",
      template_purpose: "confirmation",
      confirmation_page_settings: { confirmed: { heading: "h".repeat(201), body: 5, colour: "x" }, weird: {}, invalid: "text" },
    });
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.errors).sort()).toEqual([
      "confirmation_page_settings.confirmed.body",
      "confirmation_page_settings.confirmed.colour",
      "confirmation_page_settings.confirmed.heading",
      "confirmation_page_settings.invalid",
      "confirmation_page_settings.weird",
    ]);
    const notObject = await create({ label: "Bad pages 2", confirmation_page_settings: [1] });
    expect(notObject.body.errors).toEqual({ confirmation_page_settings: ["must be an object"] });
  });

  test("default_confirmation needs a confirmation template", async () => {
    const res = await create({ label: "General default", default_confirmation: true });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ default_confirmation: ["requires template_purpose confirmation"] });
  });

  test("delete is refused while a queued message references the template", async () => {
    const { body: t } = await create({ label: "In use" });
    const now = Date.now();
    const base = {
      channel_id: 1,
      kind: "transactional" as const,
      source: "api",
      recipient_email: "ada@example.com",
      template_id: t.id,
      message_id: "<x@test>",
      queue_at: now,
      created_at: now,
      updated_at: now,
    };
    const [queued] = server.deps.db.insert(messages).values({ ...base, status: "queued" }).returning().all();
    server.deps.db.insert(messages).values({ ...base, status: "sent", message_id: "<y@test>" }).run();
    const res = await server.request("DELETE", `/api/v1/templates/${t.id}`);
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ error: `Template is in use by: transactional ${queued.id}` });
    server.deps.db.update(messages).set({ status: "sent" }).where(eq(messages.id, queued.id)).run();
    expect((await server.request("DELETE", `/api/v1/templates/${t.id}`)).status).toBe(200);
  });

  test("not found, bad ids, and records outside T are 404", async () => {
    for (const path of ["/api/v1/templates/999999", "/api/v1/templates/abc", "/api/v1/templates/-1"]) {
      const res = await server.request("GET", path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: "Template not found" });
    }
    const { body: t } = await server.request("POST", "/api/v1/templates", { body: { channel: "marketing", label: "Hidden" } });
    const token = createTestToken(server.deps, { permissions: ["templates_read", "templates_write"], channels: ["default"] });
    for (const method of ["GET", "PATCH", "DELETE"]) {
      const res = await server.request(method, `/api/v1/templates/${t.id}`, { token, body: method === "PATCH" ? { label: "x" } : undefined });
      expect(res.status).toBe(404);
    }
  });

  test("create needs exactly one channel", async () => {
    const res = await server.request("POST", "/api/v1/templates", { body: { label: "Where?" } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ channel: ["must identify exactly one channel"] });
  });
});

describe("permissions", () => {
  test("read-only token can list and get but not write", async () => {
    const token = createTestToken(server.deps, { permissions: ["templates_read"], channels: ["default"] });
    expect((await server.request("GET", "/api/v1/templates", { token })).status).toBe(200);
    const res = await server.request("POST", "/api/v1/templates", { token, body: { label: "Nope" } });
    expect(res.status).toBe(403);
    expect(res.body.required_permission).toBe("templates_write");
  });

  test("no token is 401; missing read permission is 403", async () => {
    expect((await server.request("GET", "/api/v1/templates", { token: null })).status).toBe(401);
    const token = createTestToken(server.deps, { permissions: ["subscribers_read"], channels: ["default"] });
    expect((await server.request("GET", "/api/v1/templates", { token })).status).toBe(403);
  });

  test("a channel-scoped token sees only its channel's templates", async () => {
    const token = createTestToken(server.deps, { permissions: ["templates_read", "templates_write"], channels: ["marketing"] });
    const res = await server.request("GET", "/api/v1/templates?limit=250", { token });
    expect(res.status).toBe(200);
    expect(res.body.data.every((t: any) => t.channel === "marketing")).toBe(true);
    const created = await server.request("POST", "/api/v1/templates", { token, body: { label: "Scoped create" } });
    expect(created.status).toBe(201);
    expect(created.body.channel).toBe("marketing");
    const outside = await server.request("GET", "/api/v1/templates?channel=default", { token });
    expect(outside.status).toBe(403);
  });
});
