/**
 * The admin page in real headless Chromium (issue 6): a person signs in, manages access tokens as
 * seed 000 describes (Read only preset, Copy, Refresh, Edit permissions → Update token, Delete),
 * and uses channels, email servers, captured mail, the outbox, the audit log and admin users.
 * Tokens copied from the page are checked against the real API over HTTP. One browser and one
 * page for the whole file; the tests run in order and build on each other. Screenshots of every
 * screen land in test-artifacts/admin/.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";
import { startSmtpSink, type SmtpSink } from "../smtp-sink";

const executablePath = process.env.CHROMIUM_PATH ?? Bun.which("chromium") ?? Bun.which("chromium-browser") ?? undefined;
if (!executablePath) {
  console.warn(
    "\n" +
      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n" +
      "!! SKIPPED: admin page browser tests — no Chromium found.                                !!\n" +
      "!! Install it (Debian: apt-get install chromium) or set CHROMIUM_PATH to the executable. !!\n" +
      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
  );
}

// A step waits up to 5 s for the page; bun's own 5 s default would kill Chromium mid-step.
setDefaultTimeout(30_000);

const ARTIFACTS = join(import.meta.dir, "../../test-artifacts/admin");
const ADMIN = { email: "admin", password: "test-admin-password" };
const XSS_NAME = "<img src=x onerror=alert(1)>";
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

let server: TestServer;
let browser: Browser;
let page: Page;
let sink: SmtpSink;
const consoleErrors: string[] = [];
const pageErrors: string[] = [];
const nativeDialogs: string[] = [];
/** Every URL the page loaded: all must be Mailroom's own (no CDN, fonts or trackers). */
const requestedUrls: string[] = [];

/** Calls the public API with a token copied from the page (real HTTP). */
const callApi = (method: string, path: string, token: string, body?: unknown) => server.request(method, path, { token, body });

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

const go = async (hash: string, heading: string | RegExp) => {
  await page.goto(`${server.url}/admin${hash}`);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
};

/** The value shown in the token dialog, taken the way a person does: Copy, then paste. */
async function copyFromDialog(): Promise<string> {
  const dialog = page.getByRole("dialog");
  await visible(dialog.getByText("it will not be shown again"));
  await dialog.getByRole("button", { name: "Copy" }).click();
  await dialog.getByText("Copied to the clipboard.").waitFor();
  const value = await page.evaluate<string>("navigator.clipboard.readText()");
  expect(value).toMatch(/^mr_[0-9A-Za-z]{38}$/);
  expect(await dialog.getByRole("textbox", { name: "Token value" }).inputValue()).toBe(value);
  return value;
}

/** Retries an assertion until it passes (the page updates asynchronously) or the time is up. */
async function eventually(check: () => unknown, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await Bun.sleep(50);
    }
  }
}

const textOf = async (l: Locator) => ((await l.textContent({ timeout: 1000 })) ?? "").replace(/\s+/g, " ").trim();
const hasText = (l: Locator, text: string) => eventually(async () => expect(await textOf(l)).toBe(text));
const containsText = (l: Locator, text: string) => eventually(async () => expect(await textOf(l)).toContain(text));
const countOf = (l: Locator, n: number) => eventually(async () => expect(await l.count()).toBe(n));
const visible = (l: Locator) => l.waitFor({ state: "visible" });
const hidden = (l: Locator) => l.waitFor({ state: "hidden" });

const tokenIdFromUrl = () => Number(/#\/tokens\/(\d+)$/.exec(page.url())![1]);

describe.skipIf(!executablePath)("admin page in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [server, sink] = await Promise.all([startTestServer({ dashboard: true, env: { MAILROOM_TRUSTED_PROXIES: "127.0.0.1/32" } }), startSmtpSink({ auth: { user: "relay", pass: "sink-password-1" } })]);
    // playwright-core passes --no-sandbox itself (chromiumSandbox defaults to false), which running as root needs.
    browser = await chromium.launch({ executablePath });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    page = await context.newPage();
    page.setDefaultTimeout(5000);
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("request", (r) => requestedUrls.push(r.url()));
    page.on("dialog", (d) => {
      nativeDialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
  });

  afterAll(async () => {
    await browser?.close();
    await sink?.stop();
    await server?.stop();
  });

  test("the page is served with the strict CSP; a bad login and too many attempts show clear messages", async () => {
    const res = await page.goto(`${server.url}/admin`);
    expect(res!.headers()["content-security-policy"]).toBe(CSP);
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await shot("login");

    await page.getByLabel("Email or login name").fill(ADMIN.email);
    await page.getByLabel("Password").fill("wrong-password-123");
    await page.getByRole("button", { name: "Sign in" }).click();
    await hasText(page.getByRole("alert"), "Invalid email or password");
    await shot("login-failed");

    // Five failures for one login (docs/api-reference.md §19: 5 per 15 min per email), then the page's attempt.
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${server.url}/admin/api/login`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: server.url },
        body: JSON.stringify({ email: "nobody", password: "wrong-password-123" }),
      });
      expect(r.status).toBe(401);
    }
    await page.getByLabel("Email or login name").fill("nobody");
    await page.getByRole("button", { name: "Sign in" }).click();
    await containsText(page.getByRole("alert"), "Too many login attempts. Please retry later. Try again in");
  });

  test("opened at another address than MAILROOM_PUBLIC_URL, sign-in says where to open it", async () => {
    const elsewhere = await page.context().newPage();
    try {
      await elsewhere.goto(server.url.replace("127.0.0.1", "localhost") + "/admin");
      await elsewhere.getByLabel("Email or login name").fill(ADMIN.email);
      await elsewhere.getByLabel("Password").fill(ADMIN.password);
      await elsewhere.getByRole("button", { name: "Sign in" }).click();
      await hasText(elsewhere.getByRole("alert"), "Origin check failed: open the dashboard at the address set in MAILROOM_PUBLIC_URL.");
    } finally {
      await elsewhere.close();
    }
  });

  test("log in: the token index and the first-run banner", async () => {
    await page.getByLabel("Email or login name").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Access tokens" }).waitFor();
    const banner = page.locator("#banner");
    await hasText(banner, "Mail is only being captured locally — add an email server to deliver it.");
    expect(await banner.getByRole("link").getAttribute("href")).toBe("#/email_servers");
    await visible(page.getByRole("link", { name: "Default transactional token" }));
    await shot("tokens");
  });

  let tokenId = 0;
  let value = "";

  test("New token with Read only → the value is shown once, copied, and works read-only over the API", async () => {
    await page.getByRole("link", { name: "New token" }).click();
    // A 422 is shown next to the form and under the field it is about.
    await page.getByRole("button", { name: "Create token" }).click();
    await visible(page.getByRole("alert"));
    await hasText(page.locator("[data-field=name] .field-error"), "Name can't be blank");
    expect(await page.getByLabel("Name", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("Name", { exact: true }).fill("CI read-only");
    await page.getByRole("button", { name: "All", exact: true }).click();
    expect(await page.getByRole("checkbox", { name: "Subscribers: Write" }).isChecked()).toBe(true);
    await page.getByRole("button", { name: "Read only" }).click();
    expect(await page.getByRole("checkbox", { name: "Subscribers: Read" }).isChecked()).toBe(true);
    expect(await page.getByRole("checkbox", { name: "Subscribers: Write" }).isChecked()).toBe(false);
    await shot("token-new");
    await page.getByRole("button", { name: "Create token" }).click();

    await containsText(page.getByRole("dialog"), "Token created");
    await shot("token-created");
    value = await copyFromDialog();
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByRole("heading", { level: 1, name: "CI read-only" }).waitFor();
    tokenId = tokenIdFromUrl();
    await countOf(page.getByText(value), 0);

    expect((await callApi("GET", "/api/v1/subscribers", value)).status).toBe(200);
    const write = await callApi("POST", "/api/v1/subscribers", value, { email: "ada@example.com" });
    expect(write.status).toBe(403);
    expect(write.body.required_permission).toBe("subscribers_write");
    await shot("token-detail");
  });

  test("Refresh with confirmation shows the new value once; the old value stops working", async () => {
    await page.getByRole("button", { name: "Refresh" }).click();
    const confirm = page.getByRole("dialog");
    await containsText(confirm, "Refresh token?");
    expect(await confirm.getByLabel("Grace period (seconds)").inputValue()).toBe("0");
    await shot("token-refresh-confirm");
    await confirm.getByRole("button", { name: "Refresh token" }).click();

    await containsText(page.getByRole("dialog"), "Token refreshed");
    const fresh = await copyFromDialog();
    expect(fresh).not.toBe(value);
    await page.getByRole("button", { name: "Done" }).click();
    await countOf(page.getByRole("dialog"), 0);

    expect((await callApi("GET", "/api/v1/subscribers", value)).status).toBe(401);
    expect((await callApi("GET", "/api/v1/subscribers", fresh)).status).toBe(200);
    value = fresh;
  });

  test("Edit permissions → Update token changes what the token may do", async () => {
    await page.getByRole("button", { name: "Edit permissions" }).click();
    await page.getByRole("checkbox", { name: "Subscribers: Write" }).check();
    await shot("token-edit");
    await page.getByRole("button", { name: "Update token" }).click();
    await visible(page.getByRole("status").filter({ hasText: "Token updated." }));
    await visible(page.getByRole("heading", { level: 1, name: "CI read-only" }));

    const stored = await server.request("GET", `/api/v1/access_tokens/${tokenId}`);
    expect(stored.body.permissions.subscribers_write).toBe(true);
    expect(stored.body.permissions.subscribers_read).toBe(true);
    expect(stored.body.permissions.broadcasts_write).toBe(false);
    expect((await callApi("POST", "/api/v1/subscribers", value, { email: "ada@example.com" })).status).toBe(201);
  });

  test("Delete (trash icon) asks first — Esc cancels — then revokes the token", async () => {
    await page.getByRole("button", { name: "Delete token CI read-only" }).click();
    await containsText(page.getByRole("dialog"), "Delete token?");
    const cancel = page.getByRole("dialog").getByRole("button", { name: "Cancel" });
    await eventually(async () => expect(await cancel.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true));
    await page.keyboard.press("Escape");
    await countOf(page.getByRole("dialog"), 0);
    expect((await callApi("GET", "/api/v1/subscribers", value)).status).toBe(200);

    await page.getByRole("button", { name: "Delete token CI read-only" }).click();
    await shot("token-delete-confirm");
    await page.getByRole("dialog").getByRole("button", { name: "Delete token" }).click();
    await page.getByRole("heading", { level: 1, name: "Access tokens" }).waitFor();
    await countOf(page.getByRole("link", { name: "CI read-only" }), 0);
    expect((await callApi("GET", "/api/v1/subscribers", value)).status).toBe(401);
  });

  test("a token named like markup is shown as text and never runs", async () => {
    await go("#/tokens/new", "New token");
    await page.getByLabel("Name", { exact: true }).fill(XSS_NAME);
    await page.getByRole("button", { name: "Read only" }).click();
    await page.getByRole("button", { name: "Create token" }).click();
    await copyFromDialog();
    await page.getByRole("button", { name: "Done" }).click();
    await hasText(page.getByRole("heading", { level: 1 }), XSS_NAME);
    await go("#/tokens", "Access tokens");
    await hasText(page.getByRole("link", { name: XSS_NAME }), XSS_NAME);
    expect(await page.locator("#view img").count()).toBe(0);
    await shot("tokens-xss");
    expect(nativeDialogs).toEqual([]);
  });

  test("channels: create one, then edit its monthly quota", async () => {
    await go("#/channels", "Channels");
    await page.getByRole("link", { name: "New channel" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Marketing");
    await page.getByLabel("Sender email").fill("news@example.com");
    await page.getByLabel("Monthly send quota").fill("5000");
    await shot("channel-new");
    await page.getByRole("button", { name: "Create channel" }).click();
    await page.getByRole("heading", { level: 1, name: "Channels" }).waitFor();
    await containsText(page.getByRole("row", { name: /Marketing/ }), "5,000");

    await page.getByRole("link", { name: "Marketing" }).click();
    await page.getByRole("heading", { level: 1, name: "Edit Marketing" }).waitFor();
    expect(await page.getByLabel("Slug").isDisabled()).toBe(true);
    await page.getByLabel("Monthly send quota").fill("7000");
    await shot("channel-edit");
    await page.getByRole("button", { name: "Save channel" }).click();
    await containsText(page.getByRole("row", { name: /Marketing/ }), "7,000");
    await shot("channels");
    expect((await server.request("GET", "/api/v1/channels/marketing")).body.monthly_send_quota).toBe(7000);
  });

  test("channels: Delete asks for the slug; a wrong one is refused, the right one deletes the channel", async () => {
    const temp = await server.request("POST", "/api/v1/channels", { body: { channel: { name: "Temporary" } } });
    expect(temp.status).toBe(201);
    await go(`#/channels/${temp.body.id}`, "Edit Temporary");
    const openDelete = async () => {
      await page.getByRole("button", { name: "Delete" }).click();
      return page.getByRole("dialog", { name: "Delete channel?" });
    };
    let dialog = await openDelete();
    await dialog.getByLabel("Type temporary to confirm").fill("wrong");
    await dialog.getByRole("button", { name: "Delete channel" }).click();
    const error = page.getByRole("dialog", { name: "Could not delete the channel" });
    await visible(error);
    await error.getByRole("button", { name: "Close" }).click();
    expect((await server.request("GET", "/api/v1/channels/temporary")).status).toBe(200);

    dialog = await openDelete();
    await dialog.getByLabel("Type temporary to confirm").fill("temporary");
    await shot("channel-delete-confirm");
    await dialog.getByRole("button", { name: "Delete channel" }).click();
    await page.getByRole("heading", { level: 1, name: "Channels" }).waitFor();
    await countOf(page.getByRole("link", { name: "Temporary" }), 0);
    expect((await server.request("GET", "/api/v1/channels/temporary")).status).toBe(404);
  });

  test("captured mail: list, the HTML part in a sandboxed frame, the raw source; the outbox shows the message", async () => {
    const sent = await server.request("POST", "/api/v1/transactionals", {
      body: { channel: "default", to: "ada@example.com", subject: "Welcome <b>Ada</b>", body: "<p>Hello <strong>Ada</strong></p>" },
    });
    expect(sent.status).toBe(201);
    for (let i = 0; i < 200 && (await server.request("GET", "/api/v1/captured_messages")).body.total === 0; i++) await Bun.sleep(25);

    await go("#/captured", "Captured mail");
    await page.getByRole("link", { name: "Welcome <b>Ada</b>" }).click();
    await page.getByRole("heading", { level: 1, name: "Welcome <b>Ada</b>" }).waitFor();
    const frame = page.locator("iframe.preview");
    expect(await frame.getAttribute("sandbox")).toBe("");
    expect(await frame.getAttribute("src")).toMatch(/^\/admin\/api\/preview\/captured_messages\/\d+$/);
    await visible(page.frameLocator("iframe.preview").getByText("Hello Ada"));
    await shot("captured-message");
    await page.getByRole("tab", { name: "Raw source" }).click();
    await containsText(page.getByRole("tabpanel"), "Subject: Welcome");
    await shot("captured-raw");
    await go("#/captured", "Captured mail");
    await shot("captured");

    await go("#/outbox", "Outbox");
    const row = page.getByRole("row", { name: /ada@example\.com/ });
    await containsText(row, "Welcome <b>Ada</b>");
    await containsText(row, "sent");
    await shot("outbox");
  });

  test("captured mail: Delete all (after confirming) empties the list", async () => {
    const before = (await server.request("GET", "/api/v1/captured_messages")).body.total;
    expect(before).toBeGreaterThan(0);
    await go("#/captured", "Captured mail");
    await page.getByRole("button", { name: "Delete all" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete all captured mail?" });
    await dialog.getByRole("button", { name: "Delete all" }).click();
    await hasText(page.getByRole("status").filter({ hasText: "deleted" }), `${before} captured message${before === 1 ? "" : "s"} deleted.`);
    await visible(page.getByText("No captured messages."));
    expect((await server.request("GET", "/api/v1/captured_messages")).body.total).toBe(0);
  });

  test("email servers: create, the password stays redacted and untouched, Test connection, the banner goes away", async () => {
    await go("#/email_servers", "Email servers");
    await visible(page.getByText("No email servers yet"));
    await page.getByRole("link", { name: "New email server" }).click();
    await page.getByLabel("Channel").selectOption("default");
    await page.getByLabel("Label", { exact: true }).fill("Local relay");
    await page.getByLabel("SMTP host").fill("127.0.0.1");
    await page.getByLabel("Port", { exact: true }).fill(String(sink.port));
    await page.getByLabel("Username").fill("relay");
    await page.getByLabel("Password").fill("sink-password-1");
    await page.getByLabel("Authentication").selectOption("login");
    await page.getByLabel("Use STARTTLS when offered").uncheck();
    await shot("email-server-new");
    await page.getByRole("button", { name: "Create email server" }).click();
    await page.getByRole("heading", { level: 1, name: "Edit Local relay" }).waitFor();
    await hidden(page.locator("#banner"));

    // The stored password is shown masked; saving without touching it keeps it.
    expect(await page.getByLabel("Password").inputValue()).toBe("••••••••");
    const storedBefore = server.sql("SELECT smtp_password_enc FROM email_servers")[0].smtp_password_enc;
    await page.getByLabel("Priority").fill("50");
    await page.getByRole("button", { name: "Save email server" }).click();
    await visible(page.getByRole("status").filter({ hasText: "Email server saved." }));
    expect(server.sql("SELECT smtp_password_enc, priority FROM email_servers")[0]).toEqual({ smtp_password_enc: storedBefore, priority: 50 });

    await page.getByRole("button", { name: "Test connection" }).click();
    await hasText(page.locator(".test-result"), "Connection successful");

    // Provider webhook keys: stored encrypted, shown masked, kept when untouched; the URLs to give the provider appear.
    await page.getByLabel("Mailgun webhook signing key").fill("key-mailgun-1");
    await page.getByLabel("Postmark webhook user").fill("pm-hook");
    await page.getByLabel("Postmark webhook secret").fill("pm-secret-1");
    await page.getByRole("button", { name: "Save email server" }).click();
    await visible(page.getByRole("status").filter({ hasText: "Email server saved." }));
    const keys = server.sql("SELECT id, webhook_signing_key_enc, webhook_password_enc, webhook_username FROM email_servers")[0];
    expect(keys.webhook_username).toBe("pm-hook");
    for (const enc of [keys.webhook_signing_key_enc, keys.webhook_password_enc]) expect(enc).toMatch(/\S/);
    expect(JSON.stringify(keys)).not.toContain("key-mailgun-1");
    expect(await page.getByLabel("Mailgun webhook signing key").inputValue()).toBe("••••••••");
    await visible(page.locator("code").filter({ hasText: `/hooks/providers/${keys.id}/mailgun` }));
    await visible(page.locator("code").filter({ hasText: `/hooks/providers/${keys.id}/postmark` }));
    await page.getByLabel("Priority").fill("60");
    await page.getByRole("button", { name: "Save email server" }).click();
    await visible(page.getByRole("status").filter({ hasText: "Email server saved." }));
    expect(server.sql("SELECT webhook_signing_key_enc, webhook_password_enc FROM email_servers")[0]).toEqual({
      webhook_signing_key_enc: keys.webhook_signing_key_enc,
      webhook_password_enc: keys.webhook_password_enc,
    });
    await shot("email-server-edit");
    await go("#/email_servers", "Email servers");
    await containsText(page.getByRole("row", { name: /Local relay/ }), "active");
    await shot("email-servers");
  });

  test("audit log: newest first, every change recorded, names shown as text", async () => {
    await go("#/audit", "Audit log");
    const rows = page.locator("#view tbody tr");
    await containsText(rows.first(), "email_server.");
    for (const action of ["access_token.created", "access_token.refreshed", "access_token.updated", "access_token.deleted", "channel.updated", "admin.login_failed"]) {
      await visible(page.locator("#view tbody").getByText(action, { exact: true }).first());
    }
    await visible(page.locator("#view tbody").getByText(XSS_NAME, { exact: false }).first());
    await shot("audit");
  });

  test("admin users: list and add", async () => {
    await go("#/users", "Admin users");
    await containsText(page.getByRole("row", { name: /admin/ }).first(), "you");
    await page.getByLabel("Email or login name").fill("ops@example.com");
    await page.getByLabel("Password").fill("correct-horse-battery");
    await page.getByRole("button", { name: "Add admin" }).click();
    await visible(page.getByRole("row", { name: /ops@example\.com/ }));
    await shot("users");
  });

  test("long lists page by 50 (Previous / Next)", async () => {
    for (let i = 1; i <= 55; i++) createTestToken(server.deps, { name: `bulk token ${String(i).padStart(2, "0")}`, preset: "read_only" });
    const total = (await server.request("GET", "/api/v1/access_tokens?limit=1")).body.total;
    expect(total).toBeGreaterThan(55);
    await go("#/tokens", "Access tokens");
    const pages = page.getByRole("navigation", { name: "Pages" });
    await hasText(pages.locator("span"), `1–50 of ${total}`);
    expect(await page.getByRole("button", { name: "Previous" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Next" }).click();
    await hasText(pages.locator("span"), `51–${total} of ${total}`);
    await visible(page.getByRole("link", { name: "bulk token 55" }));
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous" }).click();
    await hasText(pages.locator("span"), `1–50 of ${total}`);
  });

  test("at phone width the sidebar becomes a top menu and nothing overflows", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await go("#/tokens", "Access tokens");
    const menu = page.getByRole("button", { name: "Menu" });
    await visible(menu);
    await hidden(page.getByRole("link", { name: "Channels" }));
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
    await shot("phone-tokens");
    await menu.click();
    expect(await menu.getAttribute("aria-expanded")).toBe("true");
    await shot("phone-menu");
    await page.getByRole("link", { name: "Channels" }).click();
    await page.getByRole("heading", { level: 1, name: "Channels" }).waitFor();
    expect(await menu.getAttribute("aria-expanded")).toBe("false");
    await go(`#/tokens/new`, "New token");
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
    await shot("phone-token-new");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test("an ended session leads to the login and back to the same screen", async () => {
    await go("#/tokens", "Access tokens");
    await page.evaluate("fetch('/admin/api/logout', { method: 'POST' })");
    await page.getByRole("link", { name: "Channels" }).click();
    await hasText(page.locator(".notice"), "Your session has ended. Sign in again.");
    await page.getByLabel("Email or login name").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Channels" }).waitFor();
    expect(page.url()).toEndWith("/admin#/channels");
  });

  test("Sign out ends the session", async () => {
    await go("#/tokens", "Access tokens");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    const me = await page.evaluate(async () => (await fetch("/admin/api/me")).status);
    expect(me).toBe(401);
    await page.goto(`${server.url}/admin#/channels`);
    await page.getByRole("button", { name: "Sign in" }).waitFor();
  });

  test("failed logins from other addresses lock `admin` out, but not for this browser, which signed in before", async () => {
    const [device] = (await page.context().cookies()).filter((c) => c.name === "mailroom_device");
    expect(device).toMatchObject({ path: "/admin/api/login", httpOnly: true, sameSite: "Strict" });
    const attack = (password: string, ip: string) =>
      fetch(`${server.url}/admin/api/login`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: server.url, "x-forwarded-for": ip },
        body: JSON.stringify({ email: ADMIN.email, password }),
      });
    // Five failures from five addresses (the page's own failure in the first test counts too).
    for (let i = 1; i <= 5; i++) expect([401, 429]).toContain((await attack("wrong-password-123", `203.0.113.${i}`)).status);
    expect((await attack(ADMIN.password, "203.0.113.6")).status).toBe(429);
    await page.getByLabel("Email or login name").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Channels" }).waitFor();
  });

  test("no CSP violation, no script error, no native dialog and no request to another origin on any screen", () => {
    expect(requestedUrls.length).toBeGreaterThan(20);
    expect(requestedUrls.filter((u) => !u.startsWith(server.url + "/") && !u.startsWith("data:"))).toEqual([]);
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(nativeDialogs).toEqual([]);
  });
});
