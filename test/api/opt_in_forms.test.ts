/** §10 /opt_in_forms CRUD over real HTTP and SQLite: defaults, blocks, settings, templates, list filters, errors. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
const PUBLIC = "https://mail.example.com";

beforeAll(async () => {
  server = await startTestServer({ env: { MAILROOM_PUBLIC_URL: PUBLIC, MAILROOM_RATE_LIMIT_GENERAL: "0" }, startJobs: false });
  createTestChannel(server.deps, "Marketing");
});
afterAll(() => server.stop());

const api = (method: string, path: string, body?: Record<string, unknown>, token?: string) =>
  server.request(method, `/api/v1${path}`, { body: body === undefined ? undefined : { channel: "default", ...body }, token });
const create = async (form: Record<string, unknown>) => {
  const res = await api("POST", "/opt_in_forms", { opt_in_form: form });
  expect(res.status).toBe(201);
  return res.body;
};
const template = async (label: string, purpose = "general") =>
  (await api("POST", "/templates", { template: { label, subject: "s", body: "b", template_purpose: purpose } })).body.id;

describe("crud", () => {
  test("create: defaults, a required email input added first, identifier and hosted/embed URLs", async () => {
    const form = await create({ label: "Newsletter", opt_in_form_blocks: [{ block_type: "button", button_label: "Join" }] });
    expect(form).toMatchObject({
      channel: "default",
      label: "Newsletter",
      form_type: "embed",
      widget_type: "inline",
      enabled: true,
      allowed_embedding_domains: [],
      automation_settings: { tag_list: null, send_welcome_email: false, double_opt_in: false, sequence_ids: [] },
      security_settings: { honeypot: true, submissions_per_ip_per_hour: 10 },
      analytics: { views_count: 0, unique_views_count: 0, submissions_count: 0, conversion_rate: 0 },
      is_variant: false,
      variants_count: 0,
      opt_in_post_submission_blocks: [],
    });
    expect(form.identifier).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(form.hosted_url).toBe(`${PUBLIC}/f/${form.identifier}`);
    expect(form.embed_url).toBe(`${PUBLIC}/f/${form.identifier}/embed.js`);
    expect(form.opt_in_form_blocks.map((b: any) => [b.id, b.block_type, b.position, b.input_field_value_type, b.required])).toEqual([
      [1, "input_field", 0, "email", true],
      [2, "button", 1, null, false],
    ]);
    expect((await api("GET", `/opt_in_forms/${form.id}`)).body).toEqual(form);
  });

  test("Broadcast form types map to embed + widget_type (value_adjusted); settings, domains, templates, _attributes", async () => {
    const confirm = await template("Form confirm", "confirmation");
    const welcome = await template("Form welcome");
    const res = await api("POST", "/opt_in_forms", {
      opt_in_form: {
        label: "Popup",
        form_type: "popup",
        allowed_embedding_domains: ["Example.com", "*.shop.example.com"],
        theme_settings: { color: "#123456" },
        automation_settings: { tag_list: ["news", " vip "], double_opt_in: true },
        security_settings: { submissions_per_ip_per_hour: 50 },
        confirmation_email_template_id: confirm,
        welcome_email_template_id: welcome,
        opt_in_form_blocks_attributes: [{ block_type: "input_field", input_field_value_type: "email", input_field_label: "Your email", required: true }],
        opt_in_post_submission_blocks_attributes: [{ block_type: "text", text_value: "Thanks!" }],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      form_type: "embed",
      widget_type: "popup",
      allowed_embedding_domains: ["example.com", "*.shop.example.com"],
      theme_settings: { color: "#123456" },
      automation_settings: { tag_list: "news,vip", send_welcome_email: false, double_opt_in: true, sequence_ids: [] },
      security_settings: { honeypot: true, submissions_per_ip_per_hour: 50 },
      confirmation_email_template_id: confirm,
      welcome_email_template_id: welcome,
    });
    expect(res.body.warnings).toEqual([{ code: "value_adjusted", param: "opt_in_form.form_type", message: "form_type popup was stored as form_type embed with widget_type popup" }]);
    expect(res.body.opt_in_form_blocks.map((b: any) => b.input_field_label)).toEqual(["Your email"]);
    expect(res.body.opt_in_post_submission_blocks).toEqual([expect.objectContaining({ id: 2, form_view: "post_submission", text_value: "Thanks!" })]);

    // A form keeps its templates in use.
    const del = await api("DELETE", `/templates/${welcome}`, {});
    expect(del.status).toBe(422);
    expect(del.body.error).toBe(`Template is in use by: opt_in_form ${res.body.id}`);
  });

  test("PATCH replaces given fields; a present blocks array replaces the set with new ids; DELETE", async () => {
    const form = await create({ label: "Old", opt_in_form_blocks: [{ block_type: "text", text_value: "Hi" }] });
    const patched = await api("PATCH", `/opt_in_forms/${form.id}`, { opt_in_form: { label: "New", enabled: false, opt_in_form_blocks: [{ block_type: "button", button_label: "Go" }] } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ label: "New", enabled: false, identifier: form.identifier });
    expect(patched.body.opt_in_form_blocks.map((b: any) => [b.id, b.block_type])).toEqual([[3, "input_field"], [4, "button"]]);
    const unchanged = await api("PATCH", `/opt_in_forms/${form.id}`, { opt_in_form: { theme_settings: { font: "serif" } } });
    expect(unchanged.body).toMatchObject({ label: "New", theme_settings: { font: "serif" } });
    expect(unchanged.body.opt_in_form_blocks).toEqual(patched.body.opt_in_form_blocks);

    expect((await api("DELETE", `/opt_in_forms/${form.id}`, {})).body).toEqual({ message: "Opt-in form deleted successfully" });
    expect((await api("GET", `/opt_in_forms/${form.id}`)).body).toEqual({ error: "Opt-in form not found" });
  });

  test("duplicate: a new top-level form with the same settings and blocks, a new identifier, '<label> (Copy)' or the given label", async () => {
    const form = await create({ label: "Original", form_type: "web", theme_settings: { a: 1 }, opt_in_post_submission_blocks: [{ block_type: "text", text_value: "Done" }] });
    await api("PATCH", `/opt_in_forms/${form.id}`, { opt_in_form: { opt_in_form_blocks: [{ block_type: "text", text_value: "Hi" }] } });
    const copy = await api("POST", `/opt_in_forms/${form.id}/duplicate`, {});
    expect(copy.status).toBe(201);
    expect(copy.body).toMatchObject({ label: "Original (Copy)", form_type: "web", theme_settings: { a: 1 }, is_variant: false });
    expect(copy.body.id).not.toBe(form.id);
    expect(copy.body.identifier).not.toBe(form.identifier);
    expect(copy.body.opt_in_form_blocks.map((b: any) => [b.id, b.block_type, b.text_value])).toEqual([[1, "input_field", null], [2, "text", "Hi"]]);
    expect(copy.body.opt_in_post_submission_blocks.map((b: any) => [b.id, b.text_value])).toEqual([[3, "Done"]]);
    expect((await api("POST", `/opt_in_forms/${form.id}/duplicate`, { label: "Second" })).body.label).toBe("Second");
    expect((await api("POST", "/opt_in_forms/999999/duplicate", {})).body).toEqual({ error: "Opt-in form not found" });
  });

  test("variants: copies with a name and weight, ≤5, not listed, counted on the form, deleted with it", async () => {
    const form = await create({ label: "Parent", opt_in_form_blocks: [{ block_type: "button", button_label: "Go" }] });
    const first = await api("POST", `/opt_in_forms/${form.id}/variants`, {});
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ is_variant: true, parent_form_id: form.id, variant_name: "Variant 1", variant_weight: 50, label: "Parent", variants_count: 0 });
    expect(first.body.opt_in_form_blocks).toEqual(form.opt_in_form_blocks);
    expect(first.body.identifier).not.toBe(form.identifier);
    const named = await api("POST", `/opt_in_forms/${form.id}/variants`, { variant: { name: "Bold", weight: 80 } });
    expect(named.body).toMatchObject({ variant_name: "Bold", variant_weight: 80 });
    expect((await api("GET", `/opt_in_forms/${form.id}`)).body.variants_count).toBe(2);
    const listed = await server.request("GET", "/api/v1/opt_in_forms?channel=default&filter=parent");
    expect(listed.body.opt_in_forms.map((f: any) => f.id)).toEqual([form.id]);
    expect(listed.body.opt_in_forms[0].variants_count).toBe(2);

    const patched = await api("PATCH", `/opt_in_forms/${named.body.id}`, { opt_in_form: { variant_weight: 10, variant_name: "Quiet" } });
    expect(patched.body).toMatchObject({ variant_weight: 10, variant_name: "Quiet" });
    expect((await api("PATCH", `/opt_in_forms/${form.id}`, { opt_in_form: { variant_weight: 10 } })).body.errors).toEqual({ variant_weight: ["can only be set on a variant"] });
    expect((await api("POST", `/opt_in_forms/${form.id}/variants`, { weight: 101 })).body.errors).toEqual({ weight: ["must be less than or equal to 100"] });
    expect((await api("POST", `/opt_in_forms/${first.body.id}/variants`, {})).body).toEqual({ error: "A variant cannot have variants; add it to the top-level form" });
    for (let i = 0; i < 3; i++) expect((await api("POST", `/opt_in_forms/${form.id}/variants`, {})).status).toBe(201);
    const sixth = await api("POST", `/opt_in_forms/${form.id}/variants`, {});
    expect(sixth.status).toBe(422);
    expect(sixth.body).toEqual({ error: "A form has at most 5 variants" });

    expect((await api("DELETE", `/opt_in_forms/${form.id}`, {})).status).toBe(200);
    expect((await api("GET", `/opt_in_forms/${first.body.id}`)).status).toBe(404);
    expect(server.sql("SELECT count(*) AS n FROM opt_in_forms WHERE parent_form_id = ?", form.id)[0].n).toBe(0);
  });

  test("list: page envelope, label filter, widget_type and enabled filters, scoped to T", async () => {
    await create({ label: "Spring SALE", form_type: "slide-in" });
    const other = createTestToken(server.deps, { permissions: ["opt_in_forms_read"], channels: ["marketing"] });
    const all = await server.request("GET", "/api/v1/opt_in_forms?channel=default&filter=sale");
    expect(all.body.opt_in_forms.map((f: any) => f.label)).toEqual(["Spring SALE"]);
    expect(all.body.pagination).toMatchObject({ total: 1, count: 1, current: 1 });
    const slide = await server.request("GET", "/api/v1/opt_in_forms?channel=default&widget_type=slide-in&enabled=true");
    expect(slide.body.opt_in_forms.map((f: any) => f.label)).toEqual(["Spring SALE"]);
    expect((await server.request("GET", "/api/v1/opt_in_forms", { token: other })).body.pagination.total).toBe(0);
  });
});

describe("errors", () => {
  const cases: [string, Record<string, unknown>, Record<string, string[]>][] = [
    ["no label", { form_type: "web" }, { label: ["can't be blank"] }],
    ["two email inputs", { label: "x", opt_in_form_blocks: [1, 2].map(() => ({ block_type: "input_field", input_field_value_type: "email" })) }, { opt_in_form_blocks: ["must have exactly one email input"] }],
    ["51 blocks", { label: "x", opt_in_form_blocks: Array.from({ length: 51 }, () => ({ block_type: "text" })) }, { opt_in_form_blocks: ["has too many blocks (maximum is 50)"] }],
    ["bad block fields", { label: "x", opt_in_form_blocks: [{ block_type: "video", button_label: "x".repeat(101) }, { block_type: "input_field" }] }, {
      "opt_in_form_blocks.0.block_type": ["must be one of text, input_field, button"],
      "opt_in_form_blocks.0.button_label": ["is too long (maximum is 100 characters)"],
      "opt_in_form_blocks.1.input_field_value_type": ["can't be blank"],
    }],
    ["bad domain", { label: "x", allowed_embedding_domains: ["https://x.com/"] }, { "allowed_embedding_domains.0": ["is not a host name (example.com or *.example.com)"] }],
    ["unknown automation setting", { label: "x", automation_settings: { sequence_ids: ["a"], colour: 1 } }, {
      "automation_settings.sequence_ids.0": ["must be an id"],
      "automation_settings.colour": ["is not an automation setting (tag_list, send_welcome_email, double_opt_in, sequence_ids)"],
    }],
    ["unknown sequence", { label: "x", automation_settings: { sequence_ids: [999999] } }, { "automation_settings.sequence_ids.0": ["does not exist in this channel"] }],
    ["rate out of range", { label: "x", security_settings: { submissions_per_ip_per_hour: 0 } }, { "security_settings.submissions_per_ip_per_hour": ["must be an integer from 1 to 1000"] }],
    ["unknown template", { label: "x", welcome_email_template_id: 999999 }, { welcome_email_template_id: ["does not exist in this channel"] }],
    ["oversized settings", { label: "x", widget_settings: { a: "x".repeat(17000) } }, { widget_settings: ["is too large (maximum is 16384 bytes)"] }],
  ];
  for (const [name, form, errors] of cases) {
    test(`${name} → 422 and nothing stored`, async () => {
      const before = server.sql("SELECT count(*) AS n FROM opt_in_forms")[0].n;
      // Sent top-level, so field errors are keyed by the bare dot-path.
      const res = await api("POST", "/opt_in_forms", form);
      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual(errors);
      expect(server.sql("SELECT count(*) AS n FROM opt_in_forms")[0].n).toBe(before);
    });
  }

  test("a general template as the confirmation email → 422", async () => {
    const general = await template("Not a confirmation");
    const res = await api("POST", "/opt_in_forms", { opt_in_form: { label: "x", confirmation_email_template_id: general } });
    expect(res.body.errors).toEqual({ confirmation_email_template_id: ["is not a confirmation template"] });
  });

});
