/**
 * The widget's view counter `POST /f/:identifier/view` (§10.1) by plain HTTP: a view of the form or
 * of one of its enabled variants, unique per day by IP + user agent like the hosted page's, the
 * Origin/CORS rules of the form post, the per-IP limit, and 404/422 for what is not shown. And
 * embed.js itself: the variants and the checked widget settings it carries.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { fakeClock, startTestServer, type TestServer } from "../harness";

let server: TestServer;
const clock = fakeClock();
beforeEach(async () => (server = await startTestServer({ clock, startJobs: false })));
afterEach(() => server.stop());

async function form(fields: Record<string, unknown> = {}) {
  const res = await server.request("POST", "/api/v1/opt_in_forms", { body: { channel: "default", opt_in_form: { label: "News", ...fields } } });
  expect(res.status).toBe(201);
  return res.body as { id: number; identifier: string };
}
const view = (identifier: string, query = "", headers: Record<string, string> = {}) => fetch(`${server.url}/f/${identifier}/view${query}`, { method: "POST", headers });
const analytics = async (id: number) => (await server.request("GET", `/api/v1/opt_in_forms/${id}/analytics`)).body;

test("a view of the form and of a variant, unique per day by IP + user agent, in /analytics", async () => {
  const f = await form();
  const variant = (await server.request("POST", `/api/v1/opt_in_forms/${f.id}/variants`, { body: { name: "Blue", weight: 20 } })).body;
  for (const [query, ua] of [["", "A"], ["", "A"], [`?variant_id=${f.id}`, "B"], [`?variant_id=${variant.id}`, "A"]] as const) {
    const res = await view(f.identifier, query, { "user-agent": ua });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  }
  const numbers = await analytics(f.id);
  expect(numbers.totals).toMatchObject({ views: 4, unique_views: 3 });
  expect(numbers.variants).toEqual([expect.objectContaining({ id: variant.id, views: 1 })]);

  // Not a form of this group, or a disabled variant: 422 and nothing counted.
  const other = await form();
  expect((await view(f.identifier, `?variant_id=${other.id}`)).status).toBe(422);
  await server.request("PATCH", `/api/v1/opt_in_forms/${variant.id}`, { body: { enabled: false } });
  const disabled = await view(f.identifier, `?variant_id=${variant.id}`);
  expect(disabled.status).toBe(422);
  expect(await disabled.json()).toEqual({ error: "Variant not found", errors: { variant_id: ["is not this form or one of its enabled variants"] } });
  expect((await analytics(f.id)).totals.views).toBe(4);
});

test("Origin: an allowed embedding domain gets CORS and a preflight, another is refused with nothing counted", async () => {
  const f = await form({ allowed_embedding_domains: ["*.shop.example"] });
  const ok = await view(f.identifier, "", { origin: "https://www.shop.example" });
  expect(ok.status).toBe(204);
  expect(ok.headers.get("access-control-allow-origin")).toBe("https://www.shop.example");
  const pre = await fetch(`${server.url}/f/${f.identifier}/view`, { method: "OPTIONS", headers: { origin: "https://a.shop.example" } });
  expect(pre.status).toBe(204);
  expect(pre.headers.get("access-control-allow-methods")).toBe("POST");
  expect((await fetch(`${server.url}/f/${f.identifier}/view`, { method: "OPTIONS", headers: { origin: "https://evil.example" } })).status).toBe(403);
  const refused = await view(f.identifier, "", { origin: "https://evil.example" });
  expect(refused.status).toBe(403);
  expect(await refused.json()).toEqual({ error: "Forbidden", message: "Origin not allowed for this form" });
  expect((await analytics(f.id)).totals.views).toBe(1);
});

test("60 views per form and IP per hour, then 429 with Retry-After until the hour has passed", async () => {
  const f = await form();
  for (let n = 0; n < 60; n++) expect((await view(f.identifier)).status).toBe(204);
  const limited = await view(f.identifier);
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  expect((await analytics(f.id)).totals.views).toBe(60);
  clock.advance(3600_000);
  expect((await view(f.identifier)).status).toBe(204);
});

test("an unknown or disabled form: 404", async () => {
  expect((await view("no-such-form")).status).toBe(404);
  const f = await form({ enabled: false });
  const res = await view(f.identifier);
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: "Not Found", message: "This form is not available" });
});

test("embed.js carries the enabled variants with their weights and only checked settings", async () => {
  const f = await form({
    widget_type: "popup",
    trigger_settings: { trigger: "delay", delay_seconds: 3, show_once_per_days: 7, other: "kept" },
    theme_settings: { primary_color: "#0a0", background_color: "red;background:url(https://evil.example/x)", font_family: "Georgia, serif", border_radius: "12px" },
    widget_settings: { position: "bottom-left", close_button: false },
  });
  const variant = (await server.request("POST", `/api/v1/opt_in_forms/${f.id}/variants`, { body: { weight: 20 } })).body;
  const script = await (await fetch(`${server.url}/f/${f.identifier}/embed.js`)).text();
  const data = JSON.parse(/var d = (\{.*\});\n/.exec(script)![1]!);
  expect(data.view).toEndWith(`/f/${f.identifier}/view`);
  expect(data.forms.map((x: { id: number; weight: number }) => [x.id, x.weight])).toEqual([[f.id, 50], [variant.id, 20]]);
  expect(data.forms[0].o).toEqual({
    trigger: "delay", delay_seconds: 3, scroll_percent: 50, show_once_per_days: 7,
    theme: { primary_color: "#0a0", background_color: "#ffffff", text_color: "#111111", font_family: "Georgia, serif", border_radius: 12 },
    position: "bottom-left", close_button: false,
  });
  expect(script).not.toContain("evil.example");
  // The settings stay stored as sent.
  expect((await server.request("GET", `/api/v1/opt_in_forms/${f.id}`)).body.trigger_settings.other).toBe("kept");
});
