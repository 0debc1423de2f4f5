/**
 * The hosted opt-in form in real Chromium (§10.1): the page loads with nothing from elsewhere and no
 * script errors, a person fills it in and submits, sees the post-submission view, and the
 * subscriber is stored — with a domain list that does not name the page's own address. And the
 * embed.js widget on another site's page: drawn there, posting across origins (CORS preflight).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chromium, type Browser } from "playwright-core";
import { startTestServer, type TestServer } from "../harness";

const executablePath = process.env.CHROMIUM_PATH ?? Bun.which("chromium") ?? Bun.which("chromium-browser") ?? undefined;
if (!executablePath) console.warn("!! SKIPPED: hosted form browser test — no Chromium found (apt-get install chromium, or set CHROMIUM_PATH) !!");
setDefaultTimeout(30_000);

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  if (!executablePath) return;
  // MAILROOM_PUBLIC_URL = the server's address: embed.js posts there.
  server = await startTestServer({ startJobs: false, dashboard: true });
  browser = await chromium.launch({ executablePath });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

test.skipIf(!executablePath)("fill in, submit, see the post-submission view; the subscriber is stored", async () => {
  const created = await server.request("POST", "/api/v1/opt_in_forms", {
    body: {
      channel: "default",
      opt_in_form: {
        label: "Join the list",
        allowed_embedding_domains: ["partner.example"],
        opt_in_form_blocks: [
          { block_type: "input_field", input_field_value_type: "email", input_field_label: "Email address" },
          { block_type: "input_field", input_field_value_type: "first_name", input_field_label: "First name" },
          { block_type: "button", button_label: "Join" },
        ],
        opt_in_post_submission_blocks: [{ block_type: "text", text_value: "You are on the list." }],
        automation_settings: { tag_list: "browser" },
      },
    },
  });
  expect(created.status).toBe(201);
  const page = await browser.newPage();
  const requested: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requested.push(r.url()));
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}/f/${created.body.identifier}`);
  await page.getByLabel("Email address").fill("ada@example.com");
  await page.getByLabel("First name").fill("Ada");
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByText("You are on the list.").waitFor();
  expect(page.url()).toBe(`${server.url}/f/${created.body.identifier}?submitted=1`);
  expect(requested.every((u) => u.startsWith(server.url))).toBe(true);
  expect(errors).toEqual([]);
  const [row] = server.sql("SELECT first_name, source, tags FROM subscribers WHERE email = 'ada@example.com'");
  expect(row).toEqual({ first_name: "Ada", source: "form", tags: '["browser"]' });

  // An empty email is refused by the server (the form is novalidate) and shown next to its field.
  await page.goto(`${server.url}/f/${created.body.identifier}`);
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByRole("alert").waitFor();
  expect(await page.getByRole("alert").textContent()).toBe("can't be blank");
  expect(await page.getByLabel("Email address").getAttribute("aria-invalid")).toBe("true");
  await page.close();
});

test.skipIf(!executablePath)("embed.js on another origin: the widget is drawn in place, submits with CORS, shows the thanks", async () => {
  const created = await server.request("POST", "/api/v1/opt_in_forms", {
    body: {
      channel: "default",
      opt_in_form: {
        label: "Partner sign-up",
        allowed_embedding_domains: ["127.0.0.1"],
        opt_in_form_blocks: [
          { block_type: "text", text_value: "<b>not bold</b>" },
          { block_type: "input_field", input_field_value_type: "email", input_field_label: "Your email" },
        ],
        opt_in_post_submission_blocks: [{ block_type: "text", text_value: "Welcome aboard" }],
      },
    },
  });
  const identifier = created.body.identifier;
  const script = await fetch(`${server.url}/f/${identifier}/embed.js`);
  expect(script.headers.get("content-type")).toBe("application/javascript; charset=utf-8");
  const host = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(`<!doctype html><html><body><h1>Partner</h1><script src="${server.url}/f/${identifier}/embed.js"></script><p>After</p></body></html>`, { headers: { "content-type": "text/html" } }),
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${host.port}/`);
    // Drawn where the script stands, text as text.
    expect(await page.locator("[data-mailroom-form] + script + p").textContent()).toBe("After");
    expect(await page.locator("[data-mailroom-form] p").first().textContent()).toBe("<b>not bold</b>");
    await page.getByLabel("Your email").fill("partner@example.com");
    await page.getByRole("button", { name: "Subscribe" }).click();
    await page.getByText("Welcome aboard").waitFor();
    expect(errors).toEqual([]);
    expect(server.sql("SELECT source FROM subscribers WHERE email = 'partner@example.com'")).toEqual([{ source: "form" }]);
    await page.close();
  } finally {
    host.stop(true);
  }
});
