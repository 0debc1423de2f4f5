/**
 * The embed.js widget in real Chromium on another origin's page (§10.1): a popup on a delay
 * trigger (the page's clock driven by Playwright) shows with its theme and counts its view only
 * once shown, stays away after a close for `show_once_per_days`; a slide-in on a scroll trigger
 * in its corner; a popup on exit intent; a variant is drawn by weight,
 * kept on the next visit (localStorage), and its view and submission are attributed to it.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { startTestServer, type TestServer } from "../harness";

const executablePath = process.env.CHROMIUM_PATH ?? Bun.which("chromium") ?? Bun.which("chromium-browser") ?? undefined;
if (!executablePath) console.warn("!! SKIPPED: embed widget browser test — no Chromium found (apt-get install chromium, or set CHROMIUM_PATH) !!");
setDefaultTimeout(30_000);

let server: TestServer;
let browser: Browser;
let host: ReturnType<typeof Bun.serve>;
let hostUrl: string;

beforeAll(async () => {
  if (!executablePath) return;
  // MAILROOM_PUBLIC_URL = the server's address: embed.js posts there.
  server = await startTestServer({ startJobs: false, dashboard: true });
  browser = await chromium.launch({ executablePath });
  // Another origin (another port) whose page includes the widget named by ?form=.
  host = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const url = new URL(req.url);
      const identifier = url.searchParams.get("form");
      const filler = url.searchParams.has("tall") ? '<div style="height:3000px">Long article</div>' : "";
      return new Response(`<!doctype html><html><body><h1>Partner</h1>${filler}<script src="${server.url}/f/${identifier}/embed.js"></script></body></html>`, { headers: { "content-type": "text/html" } });
    },
  });
  hostUrl = `http://127.0.0.1:${host.port}/`;
});
afterAll(async () => {
  host?.stop(true);
  await browser?.close();
  await server?.stop();
});

async function createForm(fields: Record<string, unknown>) {
  const res = await server.request("POST", "/api/v1/opt_in_forms", { body: { channel: "default", opt_in_form: { allowed_embedding_domains: ["127.0.0.1"], ...fields } } });
  expect(res.status).toBe(201);
  return res.body as { id: number; identifier: string };
}
const analytics = async (id: number) => (await server.request("GET", `/api/v1/opt_in_forms/${id}/analytics`)).body;
/** Opens the host page and waits until embed.js has run. */
async function visit(page: Page, identifier: string, query = "") {
  const script = page.waitForResponse((r) => r.url().endsWith("/embed.js"));
  await page.goto(`${hostUrl}?form=${identifier}${query}`);
  await script;
  await page.waitForLoadState("load");
}

test.skipIf(!executablePath)("a delayed popup: not shown (nor counted) before its delay, themed, counted once shown, away after a close", async () => {
  const f = await createForm({
    label: "Delayed offer",
    widget_type: "popup",
    trigger_settings: { trigger: "delay", delay_seconds: 20, show_once_per_days: 7 },
    theme_settings: { primary_color: "#008000", background_color: "#fafad2", text_color: "#000080", border_radius: 10, font_family: "serif;color:red" },
    opt_in_form_blocks: [{ block_type: "input_field", input_field_value_type: "email", input_field_label: "Email" }, { block_type: "button", button_label: "Get it" }],
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.clock.install();
  await visit(page, f.identifier);
  expect(await page.locator("[data-mailroom-form]").count()).toBe(0);
  expect((await analytics(f.id)).totals.views).toBe(0);

  const counted = page.waitForResponse((r) => r.url().includes(`/f/${f.identifier}/view`) && r.request().method() === "POST");
  await page.clock.runFor(20_000);
  const dialog = page.getByRole("dialog", { name: "Delayed offer" });
  await dialog.waitFor();
  expect((await counted).status()).toBe(204);
  expect((await analytics(f.id)).totals).toMatchObject({ views: 1, unique_views: 1 });

  // Runs in the page (this project's TypeScript has no DOM globals, hence defaultView).
  const style = await dialog.evaluate((el) => {
    const computed = el.ownerDocument.defaultView!.getComputedStyle;
    const s = computed(el);
    const button = computed(el.querySelector("button[type=submit]")!);
    return { background: s.backgroundColor, color: s.color, radius: s.borderRadius, font: s.fontFamily, button: button.backgroundColor };
  });
  // The unsafe font_family is not applied: the default stands.
  expect(style).toEqual({ background: "rgb(250, 250, 210)", color: "rgb(0, 0, 128)", radius: "10px", font: "sans-serif", button: "rgb(0, 128, 0)" });

  await page.getByRole("button", { name: "Close" }).click();
  expect(await dialog.count()).toBe(0);
  // The next visit within 7 days: the delay passes and nothing is shown or counted.
  await visit(page, f.identifier);
  await page.clock.runFor(60_000);
  expect(await page.locator("[data-mailroom-form]").count()).toBe(0);
  expect((await analytics(f.id)).totals.views).toBe(1);
  expect(errors).toEqual([]);
  await page.close();
});

test.skipIf(!executablePath)("a slide-in on a scroll trigger: shown at 50% scrolled, bottom-left, without a close button", async () => {
  const f = await createForm({
    label: "Read on",
    widget_type: "slide-in",
    trigger_settings: { trigger: "scroll", scroll_percent: 50 },
    widget_settings: { position: "bottom-left", close_button: false },
  });
  const page = await browser.newPage();
  await visit(page, f.identifier, "&tall=1");
  expect(await page.locator("[data-mailroom-form]").count()).toBe(0);
  const counted = page.waitForResponse((r) => r.url().includes(`/f/${f.identifier}/view`));
  await page.mouse.wheel(0, 2500);
  const dialog = page.getByRole("dialog", { name: "Read on" });
  await dialog.waitFor();
  await counted;
  const corner = await dialog.evaluate((el) => {
    const s = el.ownerDocument.defaultView!.getComputedStyle(el);
    return { left: s.left, bottom: s.bottom };
  });
  expect(corner).toEqual({ left: "16px", bottom: "16px" });
  expect(await page.getByRole("button", { name: "Close" }).count()).toBe(0);
  expect((await analytics(f.id)).totals.views).toBe(1);
  await page.close();
});

test.skipIf(!executablePath)("an exit-intent popup: shown when the pointer leaves the page at the top", async () => {
  const f = await createForm({ label: "Before you go", widget_type: "popup", trigger_settings: { trigger: "exit_intent" } });
  const page = await browser.newPage();
  await visit(page, f.identifier);
  await page.mouse.move(200, 200);
  await page.mouse.move(200, 5);
  expect(await page.locator("[data-mailroom-form]").count()).toBe(0);
  await page.mouse.move(200, -20);
  await page.getByRole("dialog", { name: "Before you go" }).waitFor();
  await page.close();
});

test.skipIf(!executablePath)("a variant drawn by weight is kept on the next visit; its view and submission are attributed to it", async () => {
  const f = await createForm({ label: "Split test", opt_in_form_blocks: [{ block_type: "input_field", input_field_value_type: "email", input_field_label: "Email" }] });
  const variant = (await server.request("POST", `/api/v1/opt_in_forms/${f.id}/variants`, { body: { name: "B", weight: 100 } })).body;
  const patched = await server.request("PATCH", `/api/v1/opt_in_forms/${variant.id}`, {
    body: { opt_in_form_blocks: [{ block_type: "text", text_value: "Variant B" }, { block_type: "input_field", input_field_value_type: "email", input_field_label: "Email" }, { block_type: "button", button_label: "Join B" }] },
  });
  expect(patched.status).toBe(200);
  const context = await browser.newContext();
  const page = await context.newPage();
  // A draw at the top of the range: the form weighs 50, the variant 100, so the variant.
  await page.addInitScript(() => (Math.random = () => 0.99));
  const firstView = page.waitForResponse((r) => r.url().includes(`/f/${f.identifier}/view?variant_id=${variant.id}`));
  await visit(page, f.identifier);
  await page.getByText("Variant B").waitFor();
  await firstView;
  await page.getByLabel("Email").fill("split@example.com");
  await page.getByRole("button", { name: "Join B" }).click();
  await page.getByText("Thank you! Please check your inbox.").waitFor();
  expect(await page.evaluate((key) => localStorage.getItem(key), `mr_form_${f.id}`)).toBe(String(variant.id));

  // A draw that would pick the form itself: the stored variant is kept.
  const again = await context.newPage();
  await again.addInitScript(() => (Math.random = () => 0));
  const counted = again.waitForResponse((r) => r.url().includes(`/f/${f.identifier}/view`));
  await visit(again, f.identifier);
  await again.getByText("Variant B").waitFor();
  await counted;
  const numbers = await analytics(f.id);
  expect(numbers.variants).toEqual([expect.objectContaining({ id: variant.id, views: 2, submissions: 1 })]);
  expect(numbers.totals).toMatchObject({ views: 2, submissions: 1 });
  expect(server.sql("SELECT source FROM subscribers WHERE email = 'split@example.com'")).toEqual([{ source: "form" }]);
  await context.close();
});
