// Mailroom admin page: a client of /admin/api (API.md §19), no build step, no dependencies.
// Security rules this file keeps (the page is served with a strict CSP, see src/admin/static.ts):
// every value from a user or the API reaches the DOM through textContent / DOM building (never
// innerHTML), event handlers are attached with addEventListener, and no style attribute is set.

const API = "/admin/api";
const V1 = `${API}/v1`;

// ---------------------------------------------------------------------------------------------
// DOM helpers

const PROPS = new Set(["value", "checked", "disabled", "selected", "readOnly", "required", "hidden"]);

/** Builds an element; string children become text nodes, `on<event>` props become listeners. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Replaces the children of `parent` (null/false children are skipped, unlike replaceChildren). */
const fill = (parent, ...children) => append((parent.replaceChildren(), parent), children);

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  trash: ["M3 6h18", "M8 6V4h8v2", "M19 6l-1 14H6L5 6", "M10 11v6", "M14 11v6"],
  copy: ["M9 9h11v11H9z", "M5 15H4V4h11v1"],
  refresh: ["M20 11a8 8 0 1 0-2.3 5.7", "M20 4v7h-7"],
};

function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

/** A labelled form field; `name` ties it to the API's 422 `errors` keys. */
function field(label, input, { name, hint } = {}) {
  input.id ||= nextId("f");
  const wrap = h("div", { class: "field", "data-field": name ?? input.name ?? "" });
  const hintEl = hint ? h("p", { class: "hint", id: nextId("hint") }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return append(wrap, [h("label", { for: input.id }, label), input, hintEl]);
}

function checkbox(label, { name, checked, hint } = {}) {
  const input = h("input", { type: "checkbox", name, checked: !!checked, id: nextId("c") });
  const wrap = h("div", { class: "field check", "data-field": name ?? "" }, input, h("label", { for: input.id }, label));
  if (hint) wrap.append(h("p", { class: "hint" }, hint));
  return wrap;
}

function select(name, options, current) {
  return h(
    "select",
    { name },
    options.map(([value, label]) => h("option", { value, selected: value === (current ?? "") }, label)),
  );
}

const button = (label, props = {}) => h("button", { type: "button", class: "button", ...props }, label);
const closeOwnDialog = (e) => e.currentTarget.closest("dialog").close();

function fmtTime(iso, empty = "—") {
  if (!iso) return h("span", { class: "muted" }, empty);
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
}

const fmtNumber = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString());

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const badge = (text, kind = "") => h("span", { class: `badge ${kind}` }, text);

/** ISO string → value of a datetime-local input (local time). */
function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// ---------------------------------------------------------------------------------------------
// API client

class ApiError extends Error {
  constructor(status, body, headers) {
    super(describeError(status, body, headers));
    this.status = status;
    this.body = body ?? {};
  }
}

function describeError(status, body, headers) {
  if (!body || typeof body.error !== "string") return `Request failed (HTTP ${status})`;
  const generic = ["Forbidden", "Unauthorized", "Payment Required", "Payload Too Large", "Unsupported Media Type"];
  let text = body.message ? (generic.includes(body.error) ? body.message : `${body.error}: ${body.message}`) : body.error;
  const retry = headers?.get("retry-after");
  if (status === 429 && retry) text += ` Try again in ${retry} second${retry === "1" ? "" : "s"}.`;
  // The page was opened at another address than MAILROOM_PUBLIC_URL (e.g. 127.0.0.1 vs localhost).
  if (status === 403 && body.message === "Origin check failed") text += ": open the dashboard at the address set in MAILROOM_PUBLIC_URL.";
  return text;
}

/** JSON request with the session cookie; a 401 outside login sends the user to the login screen. */
async function api(method, path, body) {
  const headers = { accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, { error: "Cannot reach the server. Check your connection and try again." });
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.status === 401 && path !== `${API}/login`) sessionExpired();
  if (!res.ok) throw new ApiError(res.status, data, res.headers);
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Every row of an offset list (channels are few; the API caps a page at 250). */
async function fetchAll(path) {
  const rows = [];
  for (let offset = 0; ; offset += 250) {
    const page = await api("GET", `${path}${query({ limit: 250, offset })}`);
    rows.push(...page.data);
    if (rows.length >= page.total || page.data.length === 0) return rows;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors next to forms

function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((n) => n.remove());
  form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
}

/** Shows an API error at the top of `form` and each `errors[field]` message under its field. */
function showErrors(form, err) {
  clearErrors(form);
  const summary = h("div", { class: "form-error", role: "alert" }, err.message);
  form.prepend(summary);
  const fieldErrors = err.body?.errors;
  if (fieldErrors && typeof fieldErrors === "object") {
    for (const [key, messages] of Object.entries(fieldErrors)) {
      const target = findField(form, key);
      if (!target) continue;
      const label = target.querySelector("legend, label")?.textContent ?? key;
      const msg = h("p", { class: "field-error", id: nextId("err") }, `${label} ${[].concat(messages).join(", ")}`);
      target.append(msg);
      const input = target.querySelector("input, select, textarea");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), msg.id].filter(Boolean).join(" "));
      }
    }
  }
  summary.scrollIntoView?.({ block: "nearest" });
}

function findField(form, key) {
  const candidates = [key, key.split(".").slice(1).join("."), key.split(".")[0]];
  for (const c of candidates) {
    if (!c) continue;
    const found = [...form.querySelectorAll("[data-field]")].find((n) => n.dataset.field === c);
    if (found) return found;
  }
  return null;
}

/** Runs `work` with the form's submit button disabled; shows errors in the form. */
async function submitting(form, work) {
  const submit = form.querySelector("button[type=submit]");
  if (submit) submit.disabled = true;
  clearErrors(form);
  try {
    await work();
  } catch (err) {
    if (err instanceof ApiError) showErrors(form, err);
    else throw err;
  } finally {
    if (submit) submit.disabled = false;
  }
}

function errorBox(err) {
  return h("div", { class: "form-error", role: "alert" }, err instanceof ApiError ? err.message : String(err));
}

// ---------------------------------------------------------------------------------------------
// Dialogs (native <dialog> + showModal: focus is trapped, Esc closes)

function openDialog({ title, content, actions = [], onClose }) {
  const titleId = nextId("dlg");
  const dialog = h(
    "dialog",
    { class: "dialog", "aria-labelledby": titleId },
    h("h2", { id: titleId }, title),
    h("div", { class: "dialog-body" }, content),
    actions.length ? h("div", { class: "dialog-actions" }, actions) : null,
  );
  dialog.addEventListener("close", () => {
    dialog.remove();
    onClose?.(dialog.returnValue);
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Resolves to the form's values when confirmed, or null when cancelled (button or Esc). */
function confirmDialog({ title, message, confirmLabel, danger = false, fields = [] }) {
  return new Promise((resolve) => {
    let result = null;
    const form = h("form", { class: "stack", method: "dialog" }, [].concat(message).map((m) => (m instanceof Node ? m : h("p", {}, m))), fields);
    const confirm = h("button", { type: "submit", class: danger ? "button danger" : "button primary" }, confirmLabel);
    const cancel = button("Cancel", { class: "button secondary", autofocus: true, onclick: () => dialog.close() });
    form.append(h("div", { class: "dialog-actions" }, cancel, confirm));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      result = Object.fromEntries(new FormData(form));
      dialog.close();
    });
    const dialog = openDialog({ title, content: form, onClose: () => resolve(result) });
  });
}

/**
 * Asks for confirmation (confirmDialog), then runs `action` with the form's values; a failure is
 * shown in a dialog titled `failure`.
 */
async function confirmAndRun({ failure, ...confirm }, action) {
  const values = await confirmDialog(confirm);
  if (!values) return;
  try {
    await action(values);
  } catch (err) {
    openDialog({ title: failure, content: errorBox(err), actions: [button("Close", { onclick: closeOwnDialog })] });
  }
}

/** The one time a token value is visible: read-only field, Copy button, a clear warning. */
function showSecretDialog({ title, value, note, onClose }) {
  const input = h("input", { type: "text", readOnly: true, value, class: "secret", "aria-label": "Token value", spellcheck: "false" });
  const status = h("p", { class: "copy-status", role: "status" });
  const copy = button([icon("copy"), " Copy"], {
    class: "button primary",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        status.textContent = "Copied to the clipboard.";
      } catch {
        // Without clipboard access (e.g. plain HTTP on a non-local host) the user copies by hand.
        input.select();
        status.textContent = "Press Ctrl+C (⌘C on a Mac) to copy the selected token.";
      }
    },
  });
  openDialog({
    title,
    content: [
      h("p", { class: "warning" }, "Copy this token now. For your security it will not be shown again."),
      note ? h("p", {}, note) : null,
      h("div", { class: "secret-row" }, input, copy),
      status,
    ],
    actions: [button("Done", { class: "button secondary", onclick: closeOwnDialog })],
    onClose,
  });
  input.focus();
  input.select();
}

// ---------------------------------------------------------------------------------------------
// Shell: session, navigation, banner, router

const state = { user: null, returnTo: null, loginNotice: null, flash: null };
const $ = (id) => document.getElementById(id);

function sessionExpired() {
  if (!state.user) return;
  state.user = null;
  state.loginNotice = "Your session has ended. Sign in again.";
  state.returnTo = location.hash;
  location.hash = "#/login";
}

function setSignedIn(user) {
  state.user = user;
  $("layout").classList.toggle("signed-out", !user);
  $("session-user").textContent = user ? user.email : "";
}

/** The first-run banner (static text in index.html) shows while no email server exists. */
async function updateBanner() {
  const banner = $("banner");
  try {
    const servers = await api("GET", `${V1}/email_servers${query({ limit: 1 })}`);
    banner.hidden = servers.total !== 0 || !state.user;
  } catch {
    banner.hidden = true;
  }
}

const ROUTES = [
  [/^\/login$/, viewLogin, null],
  [/^\/tokens$/, viewTokens, "tokens"],
  [/^\/tokens\/new$/, viewNewToken, "tokens"],
  [/^\/tokens\/(\d+)$/, viewToken, "tokens"],
  [/^\/channels$/, viewChannels, "channels"],
  [/^\/channels\/new$/, viewChannelForm, "channels"],
  [/^\/channels\/(\d+)$/, viewChannelForm, "channels"],
  [/^\/email_servers$/, viewEmailServers, "email_servers"],
  [/^\/email_servers\/new$/, viewEmailServerForm, "email_servers"],
  [/^\/email_servers\/(\d+)$/, viewEmailServerForm, "email_servers"],
  [/^\/captured$/, viewCaptured, "captured"],
  [/^\/captured\/(\d+)$/, viewCapturedMessage, "captured"],
  [/^\/outbox$/, viewOutbox, "outbox"],
  [/^\/audit$/, viewAudit, "audit"],
  [/^\/users$/, viewUsers, "users"],
];

async function route() {
  const path = location.hash.replace(/^#/, "") || "/tokens";
  if (!state.user && path !== "/login") {
    state.returnTo = location.hash;
    location.hash = "#/login";
    return;
  }
  if (state.user && path === "/login") {
    location.hash = "#/tokens";
    return;
  }
  let match = null;
  const found = ROUTES.find(([re]) => (match = re.exec(path)));
  for (const a of document.querySelectorAll("#nav a")) {
    if (found && a.dataset.section === found[2]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  closeMenu();
  const view = h("div", { class: "view" });
  $("view").replaceChildren(view);
  if (state.flash) view.append(h("p", { class: "notice", role: "status" }, state.flash));
  state.flash = null;
  if (state.user) updateBanner();
  else $("banner").hidden = true;
  if (!found) {
    view.append(pageHeader("Not found"), h("p", {}, "There is no such page. "), h("a", { href: "#/tokens" }, "Go to access tokens"));
    return;
  }
  try {
    await found[1](view, match.slice(1));
  } catch (err) {
    view.append(errorBox(err));
  }
}

/** The page title; focus moves to it after navigation so screen readers announce the new page. */
function pageHeader(title, ...actions) {
  document.title = `${title} · Mailroom admin`;
  const heading = h("h1", { tabindex: "-1" }, title);
  queueMicrotask(() => heading.isConnected && heading.focus({ preventScroll: true }));
  return h("div", { class: "page-header" }, heading, actions.length ? h("div", { class: "actions" }, actions) : null);
}

function closeMenu() {
  $("nav").classList.remove("open");
  $("menu-toggle").setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------------------------------------
// Tables and paging

/** A table of `rows`; `columns` = [{ label, cell(row) → node|string, class? }]. */
function table(columns, rows, { caption, empty = "Nothing here yet." } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "list" },
      caption ? h("caption", { class: "sr-only" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.cell(row)))))),
    ),
  );
}

function pager({ total, offset, limit, onPage }) {
  if (total <= limit) return null;
  const from = total ? offset + 1 : 0;
  const to = Math.min(offset + limit, total);
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    button("Previous", { class: "button secondary small", disabled: offset === 0, onclick: () => onPage(Math.max(0, offset - limit)) }),
    h("span", {}, `${from}–${to} of ${fmtNumber(total)}`),
    button("Next", { class: "button secondary small", disabled: to >= total, onclick: () => onPage(offset + limit) }),
  );
}

/** A paged offset list (§1.5) rendered into `container`; returns a reload function. */
function pagedList(container, { path, params = () => ({}), columns, caption, empty, limit = 50 }) {
  let offset = 0;
  async function load() {
    try {
      const page = await api("GET", `${path}${query({ ...params(), limit, offset })}`);
      fill(container, table(columns, page.data, { caption, empty }), pager({ total: page.total, offset, limit, onPage: (o) => ((offset = o), load()) }));
    } catch (err) {
      fill(container, errorBox(err));
    }
  }
  load();
  return () => ((offset = 0), load());
}

// ---------------------------------------------------------------------------------------------
// Login

function viewLogin(view) {
  document.title = "Sign in · Mailroom admin";
  const email = h("input", { type: "text", name: "email", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    state.loginNotice ? h("p", { class: "notice", role: "status" }, state.loginNotice) : null,
    field("Email or login name", email, { name: "email" }),
    field("Password", password, { name: "password" }),
    h("button", { type: "submit", class: "button primary" }, "Sign in"),
  );
  state.loginNotice = null;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      if (!email.value.trim() || !password.value) throw new ApiError(0, { error: "Enter your login and password." });
      const res = await api("POST", `${API}/login`, { email: email.value.trim(), password: password.value });
      setSignedIn(res.user);
      const next = state.returnTo && state.returnTo !== "#/login" ? state.returnTo : "#/tokens";
      state.returnTo = null;
      location.hash = next;
    });
  });
  view.append(h("div", { class: "login-card" }, h("h1", {}, "Mailroom"), h("p", { class: "muted" }, "Sign in to the admin page."), form));
  email.focus();
}

async function logout() {
  try {
    await api("POST", `${API}/logout`, {});
  } catch {
    // The cookie may already be gone; either way the user ends up signed out.
  }
  setSignedIn(null);
  location.hash = "#/login";
}

// ---------------------------------------------------------------------------------------------
// Permissions (API.md §2.2): 12 resources with read/write plus events/reputation (read only)

const RESOURCES = [
  ["broadcasts", "Broadcasts", "Email campaigns and scheduling"],
  ["transactionals", "Transactional Emails", "Send one-off emails via API"],
  ["templates", "Templates", "Reusable email templates"],
  ["subscribers", "Subscribers", "Manage contacts and their data"],
  ["sequences", "Sequences", "Automated email workflows"],
  ["segments", "Segments", "Subscriber groups and filters"],
  ["email_servers", "Email Servers", "SMTP and delivery settings, captured mail"],
  ["opt_in_forms", "Opt-In Forms", "Subscription forms and widgets"],
  ["webhook_endpoints", "Webhook Endpoints", "Real-time event notifications"],
  ["suppressions", "Suppressions", "Blocked addresses"],
  ["channels", "Channels", "Channels and their settings"],
  ["access_tokens", "Access Tokens", "Tokens like this one, audit log"],
  ["events", "Events", "The events feed", true],
  ["reputation", "Reputation", "Bounce and complaint rates", true],
];
const ALL_PERMISSIONS = RESOURCES.flatMap(([r, , , readOnly]) => (readOnly ? [`${r}_read`] : [`${r}_read`, `${r}_write`]));
const READ_PERMISSIONS = ALL_PERMISSIONS.filter((p) => p.endsWith("_read"));

const grantedOf = (token) => ALL_PERMISSIONS.filter((p) => token.permissions?.[p]);

function permissionSummary(granted) {
  const set = new Set(granted);
  if (set.size === ALL_PERMISSIONS.length) return "All";
  if (set.size === 0) return "None";
  if (set.size === READ_PERMISSIONS.length && READ_PERMISSIONS.every((p) => set.has(p))) return "Read only";
  const parts = RESOURCES.filter(([r]) => set.has(`${r}_read`) || set.has(`${r}_write`)).map(([r, label]) => {
    const rw = [set.has(`${r}_read`) ? "read" : null, set.has(`${r}_write`) ? "write" : null].filter(Boolean).join(" + ");
    return `${label} (${rw})`;
  });
  return parts.length > 3 ? `${parts.slice(0, 3).join(", ")} +${parts.length - 3} more` : parts.join(", ");
}

/** The Read/Write grid with All / Read only / None; `readOnly` shows granted / not granted instead. */
function permissionGrid(granted, { readOnly = false } = {}) {
  const boxes = new Map();
  const box = (perm, label) => {
    if (readOnly) {
      return granted.includes(perm)
        ? h("span", { class: "badge ok", title: `${label}: granted` }, "Yes")
        : h("span", { class: "muted", title: `${label}: not granted` }, "No");
    }
    const input = h("input", { type: "checkbox", name: "permission", value: perm, checked: granted.includes(perm), id: nextId("p") });
    boxes.set(perm, input);
    return h("label", { class: "grid-check", for: input.id }, input, h("span", { class: "sr-only" }, label));
  };
  const rows = RESOURCES.map(([r, label, desc, writeless]) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, h("span", { class: "resource" }, label), h("span", { class: "hint" }, desc)),
      h("td", {}, box(`${r}_read`, `${label}: Read`)),
      h("td", {}, writeless ? h("span", { class: "muted", title: "This resource has no write permission" }, "—") : box(`${r}_write`, `${label}: Write`)),
    ),
  );
  const setAll = (list) => boxes.forEach((input, perm) => (input.checked = list.includes(perm)));
  const quick = readOnly
    ? null
    : h(
        "div",
        { class: "quick", role: "group", "aria-label": "Quick selection" },
        h("span", { class: "muted" }, "Quick selection:"),
        button("All", { class: "button secondary small", onclick: () => setAll(ALL_PERMISSIONS) }),
        button("Read only", { class: "button secondary small", onclick: () => setAll(READ_PERMISSIONS) }),
        button("None", { class: "button secondary small", onclick: () => setAll([]) }),
      );
  const el = h(
    "fieldset",
    { class: "permissions", "data-field": "permissions" },
    h("legend", {}, "Permissions"),
    quick,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "perm-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Resource"), h("th", { scope: "col" }, "Read"), h("th", { scope: "col" }, "Write"))),
        h("tbody", {}, rows),
      ),
    ),
  );
  return { el, value: () => ALL_PERMISSIONS.filter((p) => boxes.get(p)?.checked) };
}

// ---------------------------------------------------------------------------------------------
// Access tokens

function scopeText(token) {
  return token.scope === "all" ? "All channels" : `Channels: ${token.channels.join(", ") || "none"}`;
}

function deleteTokenButton(token, { label = false, after }) {
  return button([icon("trash"), label ? " Delete" : null], {
    class: "button danger-outline small",
    "aria-label": `Delete token ${token.name}`,
    title: "Delete token",
    onclick: async () => {
      await confirmAndRun({
        title: "Delete token?",
        message: [
          h("p", {}, "Delete the token ", h("strong", {}, token.name), "?"),
          "Applications using it lose access immediately. Deleted tokens cannot be recovered.",
        ],
        confirmLabel: "Delete token",
        danger: true,
        failure: "Could not delete the token",
      }, async () => {
        await api("DELETE", `${V1}/access_tokens/${token.id}`);
        after();
      });
    },
  });
}

function viewTokens(view) {
  const list = h("div");
  view.append(
    pageHeader("Access tokens", h("a", { class: "button primary", href: "#/tokens/new" }, "New token")),
    h("p", { class: "muted" }, "Access tokens authenticate requests to the API. Give each token only the permissions it needs."),
    list,
  );
  const reload = pagedList(list, {
    path: `${V1}/access_tokens`,
    caption: "Access tokens",
    empty: "No access tokens yet.",
    columns: [
      { label: "Name", cell: (t) => h("a", { href: `#/tokens/${t.id}` }, t.name) },
      { label: "Token", cell: (t) => h("code", {}, t.redacted_value) },
      { label: "Scope", cell: scopeText },
      { label: "Permissions", cell: (t) => permissionSummary(grantedOf(t)) },
      { label: "Created", cell: (t) => fmtTime(t.created_at) },
      { label: "Last used", cell: (t) => fmtTime(t.last_used_at, "Never") },
      { label: "Actions", class: "actions-cell", cell: (t) => deleteTokenButton(t, { after: () => reload() }) },
    ],
  });
}

/**
 * The token form (create and edit). `token` is the current object when editing; `onSubmit`
 * receives the request body (only changed fields when editing).
 */
function tokenForm({ token, channels, submitLabel, onSubmit, onCancel }) {
  const name = h("input", { type: "text", name: "name", maxlength: "100", required: true, value: token?.name ?? "" });
  const grid = permissionGrid(token ? grantedOf(token) : []);
  const scopeAll = h("input", { type: "radio", name: "scope", value: "all", id: nextId("s"), checked: token?.scope === "all" });
  const scopeChannels = h("input", { type: "radio", name: "scope", value: "channels", id: nextId("s"), checked: token?.scope !== "all" });
  const selected = new Set(token ? token.channels : channels.filter((c) => c.default).map((c) => c.slug));
  const channelBoxes = channels.map((c) => h("input", { type: "checkbox", value: c.slug, id: nextId("ch"), checked: selected.has(c.slug) }));
  const channelList = h(
    "fieldset",
    { class: "channel-list", "data-field": "channels" },
    h("legend", {}, "Channels"),
    channels.map((c, i) => h("div", { class: "check" }, channelBoxes[i], h("label", { for: channelBoxes[i].id }, `${c.name} (${c.slug})`))),
  );
  const syncScope = () => (channelList.hidden = scopeAll.checked);
  scopeAll.addEventListener("change", syncScope);
  scopeChannels.addEventListener("change", syncScope);
  syncScope();
  const ips = h("textarea", { name: "allowed_ips", rows: "3", spellcheck: "false", placeholder: "203.0.113.0/24" });
  ips.value = (token?.allowed_ips ?? []).join("\n");
  const expires = h("input", { type: "datetime-local", name: "expires_at", value: toLocalInput(token?.expires_at) });
  const general = h("input", { type: "number", name: "general_per_minute", min: "1", max: "100000", inputmode: "numeric", value: token?.rate_limits?.general_per_minute ?? "" });
  const send = h("input", { type: "number", name: "send_per_minute", min: "1", max: "100000", inputmode: "numeric", value: token?.rate_limits?.send_per_minute ?? "" });

  const form = h(
    "form",
    { class: "stack", novalidate: true },
    field("Name", name, { name: "name", hint: "A descriptive name, e.g. “Production API” (up to 100 characters)." }),
    grid.el,
    h(
      "fieldset",
      { "data-field": "scope" },
      h("legend", {}, "Scope"),
      h("div", { class: "check" }, scopeChannels, h("label", { for: scopeChannels.id }, "Selected channels")),
      h("div", { class: "check" }, scopeAll, h("label", { for: scopeAll.id }, "All channels (cross-channel admin token)")),
      channelList,
    ),
    field("Allowed IPs", ips, { name: "allowed_ips", hint: "One IP or CIDR per line. Leave empty to allow any address." }),
    field("Expires", expires, { name: "expires_at", hint: "Optional, in your local time. Leave empty for a token that does not expire." }),
    h(
      "fieldset",
      { class: "inline-fields", "data-field": "rate_limits" },
      h("legend", {}, "Rate limits (requests per minute)"),
      field("General", general, { name: "rate_limits.general_per_minute", hint: "Empty = instance default" }),
      field("Send", send, { name: "rate_limits.send_per_minute", hint: "Empty = instance default" }),
    ),
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", class: "button primary" }, submitLabel),
      onCancel ? button("Cancel", { class: "button secondary", onclick: onCancel }) : h("a", { class: "button secondary", href: "#/tokens" }, "Cancel"),
    ),
  );

  const intOrNull = (input) => (input.value.trim() === "" ? null : Number(input.value));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {
      name: name.value.trim(),
      permissions: grid.value(),
      scope: scopeAll.checked ? "all" : "channels",
      channels: scopeAll.checked ? [] : channelBoxes.filter((b) => b.checked).map((b) => b.value),
      allowed_ips: ips.value.split(/[\s,]+/).filter(Boolean),
      expires_at: expires.value ? new Date(expires.value).toISOString() : null,
      rate_limits: { general_per_minute: intOrNull(general), send_per_minute: intOrNull(send) },
    };
    if (body.scope === "all") delete body.channels;
    submitting(form, () => onSubmit(token ? changedFields(token, body) : body));
  });
  return form;
}

/** The PATCH body: only what differs from the token, so the audit log records real changes. */
function changedFields(token, body) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const current = {
    name: token.name,
    permissions: grantedOf(token),
    scope: token.scope,
    channels: token.channels,
    allowed_ips: token.allowed_ips,
    expires_at: token.expires_at,
    rate_limits: token.rate_limits,
  };
  const out = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "expires_at" && value && current.expires_at && toLocalInput(value) === toLocalInput(current.expires_at)) continue;
    if (key === "channels" || key === "allowed_ips" || key === "permissions") {
      if (!same([...value].sort(), [...(current[key] ?? [])].sort())) out[key] = value;
    } else if (!same(value, current[key])) out[key] = value;
  }
  return out;
}

async function viewNewToken(view) {
  view.append(pageHeader("New token"), h("p", {}, h("a", { href: "#/tokens" }, "← Access tokens")));
  const channels = await fetchAll(`${V1}/channels`);
  const form = tokenForm({
    channels,
    submitLabel: "Create token",
    onSubmit: async (body) => {
      const created = await api("POST", `${V1}/access_tokens`, { access_token: body });
      showSecretDialog({
        title: "Token created",
        value: created.token,
        onClose: () => (location.hash = `#/tokens/${created.id}`),
      });
    },
  });
  view.append(h("section", { class: "card" }, form));
}

async function viewToken(view, [id]) {
  const [token, channels] = await Promise.all([api("GET", `${V1}/access_tokens/${id}`), fetchAll(`${V1}/channels`)]);
  renderToken(view, token, channels);
}

function renderToken(view, token, channels) {
  const reload = async () => renderToken(view, await api("GET", `${V1}/access_tokens/${token.id}`), channels);
  const refresh = button([icon("refresh"), " Refresh"], {
    class: "button secondary",
    onclick: async () => {
      const grace = h("input", { type: "number", name: "grace_period_seconds", min: "0", max: "86400", value: "0", inputmode: "numeric" });
      await confirmAndRun({
        title: "Refresh token?",
        message: [
          h("p", {}, "Refreshing ", h("strong", {}, token.name), " generates a new value and keeps its permissions."),
          h("p", { class: "warning" }, "With no grace period the current value stops working immediately. Update every application that uses it."),
        ],
        fields: field("Grace period (seconds)", grace, {
          name: "grace_period_seconds",
          hint: "0–86400. During the grace period the old value keeps working (e.g. 3600 = one hour).",
        }),
        confirmLabel: "Refresh token",
        failure: "Could not refresh the token",
      }, async (answer) => {
        const refreshed = await api("POST", `${V1}/access_tokens/${token.id}/refresh`, { grace_period_seconds: Number(answer.grace_period_seconds || 0) });
        const until = refreshed.previous_value_expires_at;
        showSecretDialog({
          title: "Token refreshed",
          value: refreshed.token,
          note: until ? `The previous value keeps working until ${new Date(until).toLocaleString()}.` : "The previous value no longer works.",
          onClose: reload,
        });
      });
    },
  });
  const edit = button("Edit permissions", {
    class: "button secondary",
    onclick: () => {
      const form = tokenForm({
        token,
        channels,
        submitLabel: "Update token",
        onCancel: () => renderToken(view, token, channels),
        onSubmit: async (body) => {
          const updated = Object.keys(body).length ? await api("PATCH", `${V1}/access_tokens/${token.id}`, { access_token: body }) : token;
          renderToken(view, updated, channels);
          flash(view, "Token updated.");
        },
      });
      view.replaceChildren(pageHeader(`Edit ${token.name}`), h("section", { class: "card" }, form));
    },
  });
  const rl = token.effective_rate_limits ?? {};
  const dl = (pairs) => h("dl", { class: "props" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/tokens" }, "← Access tokens")),
    pageHeader(token.name, edit, refresh, deleteTokenButton(token, { label: true, after: () => (location.hash = "#/tokens") })),
    h(
      "div",
      { class: "cards" },
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Token"),
        dl([
          ["Value", h("code", {}, token.redacted_value)],
          ["Type", token.type === "admin_cross_channel" ? "Cross-channel (scope all)" : "Channel-scoped"],
          ["Scope", scopeText(token)],
          ["Allowed IPs", token.allowed_ips.length ? token.allowed_ips.join(", ") : "Any"],
          ["Expires", fmtTime(token.expires_at, "Never")],
          ["Rate limits", `${fmtNumber(rl.general_per_minute)} general / ${fmtNumber(rl.send_per_minute)} send per minute`],
          token.previous_value_expires_at ? ["Previous value valid until", fmtTime(token.previous_value_expires_at)] : null,
        ].filter(Boolean)),
        h("p", { class: "hint" }, "The full value is shown only once, when the token is created or refreshed."),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, "Usage"),
        dl([
          ["Created", fmtTime(token.created_at)],
          ["Last used", fmtTime(token.last_used_at, "Never")],
          ["Last IP", token.last_used_ip ?? "—"],
          ["Requests", fmtNumber(token.request_count)],
          ["Updated", fmtTime(token.updated_at)],
        ]),
      ),
    ),
    h("section", { class: "card" }, permissionGrid(grantedOf(token), { readOnly: true }).el),
  );
}

/** A short confirmation above the page content. */
function flash(view, text) {
  view.prepend(h("p", { class: "notice", role: "status" }, text));
}

// ---------------------------------------------------------------------------------------------
// Channels

function viewChannels(view) {
  const list = h("div");
  view.append(
    pageHeader("Channels", h("a", { class: "button primary", href: "#/channels/new" }, "New channel")),
    h("p", { class: "muted" }, "Each channel has its own subscribers, templates, email servers, sender identity and send quota."),
    list,
  );
  pagedList(list, {
    path: `${V1}/channels`,
    caption: "Channels",
    columns: [
      { label: "Name", cell: (c) => [h("a", { href: `#/channels/${c.id}` }, c.name), c.default ? [" ", badge("default")] : null] },
      { label: "Slug", cell: (c) => h("code", {}, c.slug) },
      { label: "Sender", cell: (c) => (c.sender_email ? `${c.sender_name ? `${c.sender_name} ` : ""}<${c.sender_email}>` : h("span", { class: "muted" }, "not set")) },
      { label: "Monthly quota", cell: (c) => (c.monthly_send_quota === null ? "Unlimited" : fmtNumber(c.monthly_send_quota)) },
      { label: "Time zone", cell: (c) => c.timezone },
      { label: "Created", cell: (c) => fmtTime(c.created_at) },
    ],
  });
}

async function viewChannelForm(view, [id]) {
  const channel = id ? await api("GET", `${V1}/channels/${id}`) : null;
  view.append(
    h("p", {}, h("a", { href: "#/channels" }, "← Channels")),
    channel ? pageHeader(`Edit ${channel.name}`, deleteChannelButton(channel)) : pageHeader("New channel"),
  );
  const input = (name, type = "text", extra = {}) => h("input", { type, name, value: channel?.[name] ?? "", ...extra });
  const inputs = {
    name: input("name", "text", { maxlength: "100", required: true }),
    slug: input("slug", "text", { maxlength: "50", pattern: "[a-z0-9][a-z0-9-]*", disabled: !!channel, spellcheck: "false" }),
    sender_email: input("sender_email", "email"),
    sender_name: input("sender_name", "text", { maxlength: "100" }),
    reply_to: input("reply_to", "email"),
    timezone: input("timezone", "text", { placeholder: "UTC", list: "timezones" }),
    physical_address: h("textarea", { name: "physical_address", maxlength: "500", rows: "2" }),
    monthly_send_quota: input("monthly_send_quota", "number", { min: "0", inputmode: "numeric" }),
  };
  inputs.physical_address.value = channel?.physical_address ?? "";
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    field("Name", inputs.name, { name: "name" }),
    field("Slug", inputs.slug, { name: "slug", hint: channel ? "The slug cannot be changed." : "Lower-case letters, digits and dashes. Empty = derived from the name." }),
    field("Sender email", inputs.sender_email, { name: "sender_email", hint: "Required to send mail from this channel." }),
    field("Sender name", inputs.sender_name, { name: "sender_name" }),
    field("Reply-To", inputs.reply_to, { name: "reply_to" }),
    field("Time zone", inputs.timezone, { name: "timezone", hint: "IANA name, e.g. Europe/Berlin." }),
    h("datalist", { id: "timezones" }, zones.map((z) => h("option", { value: z }))),
    field("Postal address", inputs.physical_address, { name: "physical_address", hint: "Shown in broadcast footers." }),
    field("Monthly send quota", inputs.monthly_send_quota, { name: "monthly_send_quota", hint: "Messages per calendar month (UTC). Empty = unlimited." }),
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", class: "button primary" }, channel ? "Save channel" : "Create channel"),
      h("a", { class: "button secondary", href: "#/channels" }, "Cancel"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const body = {};
      for (const [key, el] of Object.entries(inputs)) {
        if (el.disabled) continue;
        const v = el.value.trim();
        if (key === "monthly_send_quota") body[key] = v === "" ? null : Number(v);
        else if (key === "slug" || key === "timezone") {
          if (v) body[key] = v;
        } else body[key] = v === "" && key !== "name" ? null : v;
      }
      if (channel) await api("PATCH", `${V1}/channels/${channel.id}`, { channel: body });
      else await api("POST", `${V1}/channels`, { channel: body });
      state.flash = channel ? "Channel saved." : "Channel created.";
      location.hash = "#/channels";
    });
  });
  view.append(h("section", { class: "card" }, form));
}

/** Deleting a channel removes all its data, so the dialog asks for its slug (the API's `confirm`). */
function deleteChannelButton(channel) {
  return button([icon("trash"), " Delete"], {
    class: "button danger-outline",
    onclick: async () => {
      const confirmInput = h("input", { type: "text", name: "confirm", required: true, autocomplete: "off", spellcheck: "false" });
      await confirmAndRun({
        title: "Delete channel?",
        message: [
          h("p", {}, "Delete ", h("strong", {}, channel.name), " and everything in it: subscribers, templates, segments, email servers, suppressions and its mail."),
          "Tokens limited to this channel lose access to it. This cannot be undone.",
        ],
        fields: [field(`Type ${channel.slug} to confirm`, confirmInput, { name: "confirm" })],
        confirmLabel: "Delete channel",
        danger: true,
        failure: "Could not delete the channel",
      }, async (values) => {
        await api("DELETE", `${V1}/channels/${channel.id}`, { confirm: values.confirm });
        state.flash = "Channel deleted.";
        location.hash = "#/channels";
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Email servers

const VENDORS = [
  ["smtp", "SMTP"],
  ["aws_ses", "Amazon SES"],
  ["sendgrid", "SendGrid"],
  ["postmark", "Postmark"],
  ["mailgun", "Mailgun"],
  ["resend", "Resend"],
  ["inboxroad", "Inboxroad"],
  ["smtp_com", "SMTP.com"],
  ["other", "Other"],
];
const MASKED = "••••••••";

async function testConnection(server, output) {
  output.className = "test-result";
  output.textContent = `Testing ${server.label}…`;
  try {
    const res = await api("POST", `${V1}/email_servers/${server.id}/test_connection`, {});
    output.className = `test-result ${res.success ? "ok" : "failed"}`;
    output.textContent = res.message;
    return res;
  } catch (err) {
    output.className = "test-result failed";
    output.textContent = err.message;
    return null;
  }
}

function viewEmailServers(view) {
  const list = h("div");
  const result = h("p", { class: "test-result", role: "status" });
  view.append(
    pageHeader("Email servers", h("a", { class: "button primary", href: "#/email_servers/new" }, "New email server")),
    h("p", { class: "muted" }, "Mail is delivered through these SMTP servers. A channel without a server for a purpose captures that mail locally instead (see Captured mail)."),
    result,
    list,
  );
  const reload = pagedList(list, {
    path: `${V1}/email_servers`,
    caption: "Email servers",
    empty: "No email servers yet: mail is only captured locally.",
    columns: [
      { label: "Label", cell: (s) => h("a", { href: `#/email_servers/${s.id}` }, s.label) },
      { label: "Channel", cell: (s) => s.channel },
      { label: "Server", cell: (s) => h("code", {}, `${s.smtp_address}:${s.smtp_port}`) },
      { label: "State", cell: (s) => (s.active ? badge("active", "ok") : badge("inactive", "warn")) },
      {
        label: "Used for",
        cell: (s) => ["broadcasts", "sequences", "transactionals"].filter((p) => s[`use_for_${p}`]).join(", ") || "—",
      },
      { label: "Priority", cell: (s) => String(s.priority) },
      { label: "Last error", cell: (s) => (s.last_error ? h("span", { class: "error-text" }, s.last_error) : "—") },
      {
        label: "Actions",
        class: "actions-cell",
        cell: (s) =>
          button("Test connection", {
            class: "button secondary small",
            onclick: async () => {
              if (await testConnection(s, result)) reload();
            },
          }),
      },
    ],
  });
}

async function viewEmailServerForm(view, [id]) {
  const [server, channels] = await Promise.all([id ? api("GET", `${V1}/email_servers/${id}`) : null, fetchAll(`${V1}/channels`)]);
  view.append(h("p", {}, h("a", { href: "#/email_servers" }, "← Email servers")), pageHeader(server ? `Edit ${server.label}` : "New email server"));
  const v = (key, fallback) => (server ? server[key] : fallback);
  const text = (name, extra = {}) => h("input", { type: "text", name, value: v(name, "") ?? "", ...extra });
  // Write-only credentials: a stored one is shown masked and only sent when the user changes it.
  const touched = new Set();
  const secret = (name) => {
    const el = h("input", { type: "password", name, autocomplete: "new-password", value: server?.[name] ? MASKED : "" });
    el.addEventListener("input", () => touched.add(name));
    return el;
  };
  const storedHint = (name, what) => (server?.[name] ? `Stored ${what} shown redacted. Leave it unchanged to keep it; clear it to remove it.` : null);
  const num = (name, fallback, extra = {}) => h("input", { type: "number", name, value: v(name, fallback) ?? "", inputmode: "numeric", ...extra });
  const inputs = {
    label: text("label", { maxlength: "255", required: true }),
    vendor: select("vendor", VENDORS, v("vendor", "smtp")),
    smtp_address: text("smtp_address", { required: true, spellcheck: "false", placeholder: "smtp.example.com" }),
    smtp_port: num("smtp_port", 587, { min: "1", max: "65535" }),
    smtp_username: text("smtp_username", { maxlength: "255", autocomplete: "off", spellcheck: "false" }),
    smtp_password: secret("smtp_password"),
    smtp_authentication: select(
      "smtp_authentication",
      [["", "None"], ["plain", "PLAIN"], ["login", "LOGIN"], ["cram_md5", "CRAM-MD5"]],
      v("smtp_authentication", "") ?? "",
    ),
    emails_per_hour: num("emails_per_hour", "", { min: "1" }),
    priority: num("priority", 100, { min: "0", max: "1000" }),
    custom_unsubscribe_link: h("input", { type: "url", name: "custom_unsubscribe_link", value: v("custom_unsubscribe_link", "") ?? "" }),
    webhook_signing_key: secret("webhook_signing_key"),
    webhook_public_key: secret("webhook_public_key"),
    webhook_username: text("webhook_username", { maxlength: "255", autocomplete: "off", spellcheck: "false" }),
    webhook_password: secret("webhook_password"),
    sns_topic_arn: text("sns_topic_arn", { spellcheck: "false", placeholder: "arn:aws:sns:eu-west-1:123456789012:bounces" }),
  };
  const flags = [
    ["smtp_enable_starttls_auto", "Use STARTTLS when offered", true],
    ["smtp_tls", "Implicit TLS (usually port 465)", false],
    ["active", "Active", true],
    ["use_for_broadcasts", "Use for broadcasts", true],
    ["use_for_sequences", "Use for sequences", true],
    ["use_for_transactionals", "Use for transactional emails", true],
    ["include_unsubscribe_header", "Add List-Unsubscribe to transactional emails", true],
    ["use_custom_unsubscribe_link", "Use a custom unsubscribe link", false],
  ].map(([name, label, fallback]) => checkbox(label, { name, checked: v(name, fallback) }));
  const channelSelect =
    !server && channels.length > 1 ? select("channel", channels.map((c) => [c.slug, `${c.name} (${c.slug})`]), (channels.find((c) => c.default) ?? channels[0]).slug) : null;

  const testOutput = h("p", { class: "test-result", role: "status" });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    channelSelect ? field("Channel", channelSelect, { name: "channel" }) : server ? h("p", { class: "muted" }, `Channel: ${server.channel}`) : null,
    field("Label", inputs.label, { name: "label" }),
    field("Vendor", inputs.vendor, { name: "vendor", hint: "Informational; delivery always uses SMTP." }),
    h(
      "div",
      { class: "inline-fields" },
      field("SMTP host", inputs.smtp_address, { name: "smtp_address" }),
      field("Port", inputs.smtp_port, { name: "smtp_port" }),
    ),
    h(
      "div",
      { class: "inline-fields" },
      field("Username", inputs.smtp_username, { name: "smtp_username" }),
      field("Password", inputs.smtp_password, {
        name: "smtp_password",
        hint: storedHint("smtp_password", "password"),
      }),
    ),
    field("Authentication", inputs.smtp_authentication, { name: "smtp_authentication" }),
    h("fieldset", {}, h("legend", {}, "Options"), flags),
    field("Custom unsubscribe link", inputs.custom_unsubscribe_link, { name: "custom_unsubscribe_link" }),
    h(
      "div",
      { class: "inline-fields" },
      field("Emails per hour", inputs.emails_per_hour, { name: "emails_per_hour", hint: "Empty = unlimited" }),
      field("Priority", inputs.priority, { name: "priority", hint: "0–1000, lower is tried first" }),
    ),
    providerWebhookFields(server, inputs, storedHint),
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", class: "button primary" }, server ? "Save email server" : "Create email server"),
      server ? button("Test connection", { class: "button secondary", onclick: () => testConnection(server, testOutput) }) : null,
      h("a", { class: "button secondary", href: "#/email_servers" }, "Cancel"),
      server ? deleteServerButton(server) : null,
    ),
    testOutput,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const body = {};
      for (const [key, el] of Object.entries(inputs)) {
        const val = el.value.trim();
        if (el.type === "password") {
          if (!server || touched.has(key)) body[key] = el.value === "" ? null : el.value;
          if (!server && body[key] === null) delete body[key];
        } else if (["smtp_port", "priority", "emails_per_hour"].includes(key)) body[key] = val === "" ? null : Number(val);
        else body[key] = val === "" && key !== "label" && key !== "smtp_address" ? null : val;
      }
      if (body.smtp_port === null) delete body.smtp_port;
      if (body.priority === null) delete body.priority;
      for (const wrap of flags) {
        const box = wrap.querySelector("input");
        body[box.name] = box.checked;
      }
      const payload = { email_server: body };
      if (channelSelect) payload.channel = channelSelect.value;
      const saved = server
        ? await api("PATCH", `${V1}/email_servers/${server.id}`, payload)
        : await api("POST", `${V1}/email_servers`, payload);
      state.flash = server ? "Email server saved." : "Email server created.";
      if (server) route();
      else location.hash = `#/email_servers/${saved.id}`;
    });
  });
  view.append(h("section", { class: "card" }, form));
}

/**
 * Keys for a provider relay's signed event webhooks (bounces and complaints, docs/provider-webhooks.md),
 * and the URLs to give the provider once a key is set.
 */
function providerWebhookFields(server, inputs, storedHint) {
  const urls = Object.entries(server?.provider_webhook_urls ?? {});
  return h(
    "fieldset",
    {},
    h("legend", {}, "Provider event webhooks (bounces and complaints)"),
    field("Mailgun webhook signing key", inputs.webhook_signing_key, { name: "webhook_signing_key", hint: storedHint("webhook_signing_key", "key") }),
    field("SendGrid verification key", inputs.webhook_public_key, { name: "webhook_public_key", hint: storedHint("webhook_public_key", "key") ?? "The base64 public key of SendGrid's signed event webhook" }),
    h(
      "div",
      { class: "inline-fields" },
      field("Postmark webhook user", inputs.webhook_username, { name: "webhook_username" }),
      field("Postmark webhook secret", inputs.webhook_password, { name: "webhook_password", hint: storedHint("webhook_password", "secret") }),
    ),
    field("SES: SNS topic ARN", inputs.sns_topic_arn, { name: "sns_topic_arn", hint: "Only notifications of this topic are accepted" }),
    urls.length
      ? h("div", { class: "field" }, h("p", {}, "Give the provider this URL:"), h("ul", {}, urls.map(([provider, url]) => h("li", {}, `${provider}: `, h("code", {}, url)))))
      : null,
  );
}

function deleteServerButton(server) {
  return button([icon("trash"), " Delete"], {
    class: "button danger-outline",
    onclick: async () => {
      await confirmAndRun({
        title: "Delete email server?",
        message: [h("p", {}, "Delete ", h("strong", {}, server.label), "?"), "Queued mail is routed to the channel's other servers, or captured locally if none is left."],
        confirmLabel: "Delete email server",
        danger: true,
        failure: "Could not delete the email server",
      }, async () => {
        await api("DELETE", `${V1}/email_servers/${server.id}`);
        location.hash = "#/email_servers";
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Captured mail

function viewCaptured(view) {
  const to = h("input", { type: "search", name: "to", spellcheck: "false" });
  const subject = h("input", { type: "search", name: "subject" });
  const list = h("div");
  const filters = h(
    "form",
    { class: "filters", role: "search" },
    field("To", to, { name: "to" }),
    field("Subject contains", subject, { name: "subject" }),
    h("button", { type: "submit", class: "button secondary" }, "Filter"),
  );
  const deleteAll = button([icon("trash"), " Delete all"], {
    class: "button danger-outline",
    onclick: async () => {
      await confirmAndRun({
        title: "Delete all captured mail?",
        message: "Every captured message of every channel is deleted. Sent mail is not affected.",
        confirmLabel: "Delete all",
        danger: true,
        failure: "Could not delete captured mail",
      }, async () => {
        const { deleted } = await api("DELETE", `${V1}/captured_messages`);
        flash(view, `${fmtNumber(deleted)} captured message${deleted === 1 ? "" : "s"} deleted.`);
        reload();
      });
    },
  });
  view.append(
    pageHeader("Captured mail", deleteAll),
    h("p", { class: "muted" }, "Messages the built-in capture server received instead of delivering them (channels without an email server)."),
    filters,
    list,
  );
  const reload = pagedList(list, {
    path: `${V1}/captured_messages`,
    params: () => ({ to: to.value.trim(), subject: subject.value }),
    caption: "Captured messages",
    empty: "No captured messages.",
    columns: [
      { label: "Received", cell: (m) => fmtTime(m.received_at) },
      { label: "Subject", cell: (m) => h("a", { href: `#/captured/${m.id}` }, m.subject || "(no subject)") },
      { label: "From", cell: (m) => m.from ?? "—" },
      { label: "To", cell: (m) => m.to.join(", ") },
      { label: "Channel", cell: (m) => m.channel },
      { label: "Size", cell: (m) => fmtBytes(m.size) },
    ],
  });
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    reload();
  });
}

async function viewCapturedMessage(view, [id]) {
  const m = await api("GET", `${V1}/captured_messages/${id}`);
  const dl = h(
    "dl",
    { class: "props" },
    [
      ["From", m.from ?? "—"],
      ["To", m.to.join(", ")],
      m.cc.length ? ["Cc", m.cc.join(", ")] : null,
      ["Received", fmtTime(m.received_at)],
      ["Channel", m.channel],
      ["Message-ID", h("code", {}, m.message_id ?? "—")],
      m.transactional_id ? ["Transactional", `#${m.transactional_id}`] : null,
      m.broadcast_id ? ["Broadcast", `#${m.broadcast_id}`] : null,
      ["Size", fmtBytes(m.size)],
      m.attachments.length
        ? ["Attachments", h("ul", {}, m.attachments.map((a) => h("li", {}, `${a.filename ?? "(unnamed)"} — ${a.content_type}, ${fmtBytes(a.size)}`)))]
        : null,
    ]
      .filter(Boolean)
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
  const panels = {
    html: () =>
      m.has_html
        ? h("iframe", { class: "preview", sandbox: "", src: `${API}/preview/captured_messages/${m.id}`, title: "HTML part of the message", referrerpolicy: "no-referrer" })
        : h("p", { class: "empty" }, "This message has no HTML part."),
    text: () => (m.text ? h("pre", { class: "source" }, m.text) : h("p", { class: "empty" }, "This message has no text part.")),
    headers: () => table([{ label: "Header", cell: (r) => r[0] }, { label: "Value", cell: (r) => r[1] }], m.headers ?? [], { caption: "Headers" }),
    raw: () => {
      const pre = h("pre", { class: "source" }, "Loading…");
      fetch(`${V1}/captured_messages/${m.id}/raw`, { credentials: "same-origin" })
        .then((res) => (res.ok ? res.text() : Promise.reject(new Error(`HTTP ${res.status}`))))
        .then((raw) => (pre.textContent = raw))
        .catch((err) => (pre.textContent = `Could not load the raw source: ${err.message}`));
      return pre;
    },
  };
  view.append(
    h("p", {}, h("a", { href: "#/captured" }, "← Captured mail")),
    pageHeader(m.subject || "(no subject)", deleteCapturedButton(m)),
    h("section", { class: "card" }, dl),
    tabs([
      ["html", "HTML"],
      ["text", "Text"],
      ["headers", "Headers"],
      ["raw", "Raw source"],
    ], panels, m.has_html ? "html" : "text"),
  );
}

/** An ARIA tab set; panels are built on first show. Arrow keys move between tabs. */
function tabs(list, builders, initial) {
  const tabEls = [];
  const panelEls = [];
  const show = (key, focus = false) => {
    list.forEach(([k], i) => {
      const on = k === key;
      tabEls[i].setAttribute("aria-selected", String(on));
      tabEls[i].tabIndex = on ? 0 : -1;
      panelEls[i].hidden = !on;
      if (on && !panelEls[i].hasChildNodes()) panelEls[i].append(builders[k]());
      if (on && focus) tabEls[i].focus();
    });
  };
  list.forEach(([key, label], i) => {
    const tabId = nextId("tab");
    const panelId = nextId("panel");
    tabEls.push(
      h("button", {
        type: "button",
        role: "tab",
        id: tabId,
        "aria-controls": panelId,
        class: "tab",
        text: label,
        onclick: () => show(key),
        onkeydown: (e) => {
          const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
          if (step) show(list[(i + step + list.length) % list.length][0], true);
        },
      }),
    );
    panelEls.push(h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, class: "tabpanel", tabindex: "0" }));
  });
  const el = h("section", { class: "card" }, h("div", { role: "tablist", class: "tabs", "aria-label": "Message parts" }, tabEls), panelEls);
  show(initial);
  return el;
}

function deleteCapturedButton(m) {
  return button([icon("trash"), " Delete"], {
    class: "button danger-outline",
    onclick: async () => {
      await confirmAndRun({
        title: "Delete captured message?",
        message: "The message is removed from the capture inbox.",
        confirmLabel: "Delete message",
        danger: true,
        failure: "Could not delete the message",
      }, async () => {
        await api("DELETE", `${V1}/captured_messages/${m.id}`);
        location.hash = "#/captured";
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Outbox (recent transactionals, API.md §4)

const STATUS_KIND = { sent: "ok", queued: "", sending: "warn", deferred: "warn", pending_confirmation: "", failed: "bad", bounced: "bad" };

function viewOutbox(view) {
  const status = select("status", [["", "Any status"], ...Object.keys(STATUS_KIND).map((s) => [s, s.replace("_", " ")])], "");
  const list = h("div");
  const filters = h("form", { class: "filters" }, field("Status", status, { name: "status" }), h("button", { type: "submit", class: "button secondary" }, "Filter"));
  view.append(pageHeader("Outbox"), h("p", { class: "muted" }, "Recent transactional emails, newest first, with their delivery state."), filters, list);
  const reload = pagedList(list, {
    path: `${V1}/transactionals`,
    params: () => ({ status: status.value }),
    caption: "Transactional emails",
    empty: "No transactional emails yet.",
    columns: [
      { label: "Created", cell: (t) => fmtTime(t.created_at) },
      { label: "To", cell: (t) => (t.recipient_name ? `${t.recipient_name} <${t.recipient_email}>` : t.recipient_email) },
      { label: "Subject", cell: (t) => t.subject ?? "—" },
      { label: "Channel", cell: (t) => t.channel },
      { label: "Status", cell: (t) => badge(t.status.replace("_", " "), STATUS_KIND[t.status] ?? "") },
      { label: "Source", cell: (t) => t.source },
      { label: "Sent / failed", cell: (t) => fmtTime(t.sent_at ?? t.failed_at) },
      { label: "Failure reason", cell: (t) => (t.failure_reason ? h("span", { class: "error-text" }, t.failure_reason) : "—") },
    ],
  });
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    reload();
  });
}

// ---------------------------------------------------------------------------------------------
// Audit log (API.md §2.6; the API lists id ascending, the page shows the newest first)

function auditValue(v) {
  if (v === null || v === undefined) return "∅";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}…` : s;
}

function viewAudit(view) {
  const action = h("input", { type: "search", name: "action", placeholder: "e.g. access_token.created", spellcheck: "false" });
  const targetType = select(
    "target_type",
    [["", "Any target"], ["access_token", "Access tokens"], ["channel", "Channels"], ["email_server", "Email servers"], ["webhook_endpoint", "Webhook endpoints"], ["admin_user", "Admin users"]],
    "",
  );
  const list = h("div");
  const filters = h(
    "form",
    { class: "filters" },
    field("Action", action, { name: "action" }),
    field("Target", targetType, { name: "target_type" }),
    h("button", { type: "submit", class: "button secondary" }, "Filter"),
  );
  view.append(pageHeader("Audit log"), h("p", { class: "muted" }, "Every change to tokens, channels, email servers, webhooks and admin users, and every sign-in."), filters, list);
  const limit = 50;
  let pageIndex = 0;
  const columns = [
    { label: "Time", cell: (r) => fmtTime(r.created_at) },
    { label: "Actor", cell: (r) => `${r.actor?.type ?? "?"}${r.actor?.label ? `: ${r.actor.label}` : ""}` },
    { label: "Action", cell: (r) => h("code", {}, r.action) },
    { label: "Target", cell: (r) => (r.target ? `${r.target.type}${r.target.label ? ` “${r.target.label}”` : ""}${r.target.id ? ` #${r.target.id}` : ""}` : "—") },
    { label: "IP", cell: (r) => r.ip ?? "—" },
    {
      label: "Changes",
      cell: (r) => {
        const entries = Object.entries(r.changes ?? {});
        if (!entries.length) return "—";
        return h("ul", { class: "changes" }, entries.map(([k, [before, after]]) => h("li", {}, h("code", {}, k), `: ${auditValue(before)} → ${auditValue(after)}`)));
      },
    },
  ];
  async function load() {
    const filter = { action: action.value.trim(), target_type: targetType.value };
    try {
      const { total } = await api("GET", `${V1}/audit_log${query({ ...filter, limit: 1 })}`);
      const end = Math.max(0, total - pageIndex * limit);
      const offset = Math.max(0, end - limit);
      const page = end ? await api("GET", `${V1}/audit_log${query({ ...filter, limit: end - offset, offset })}`) : { data: [] };
      fill(
        list,
        table(columns, page.data.slice().reverse(), { caption: "Audit log", empty: "No audit entries." }),
        pager({ total, offset: pageIndex * limit, limit, onPage: (o) => ((pageIndex = o / limit), load()) }),
      );
    } catch (err) {
      fill(list, errorBox(err));
    }
  }
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    pageIndex = 0;
    load();
  });
  load();
}

// ---------------------------------------------------------------------------------------------
// Admin users

function viewUsers(view) {
  const list = h("div");
  const email = h("input", { type: "text", name: "email", autocomplete: "off", spellcheck: "false", maxlength: "254" });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", minlength: "12" });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("h2", {}, "Add an admin"),
    h(
      "div",
      { class: "inline-fields" },
      field("Email or login name", email, { name: "email" }),
      field("Password", password, { name: "password", hint: "At least 12 characters." }),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button primary" }, "Add admin")),
  );
  view.append(pageHeader("Admin users"), h("p", { class: "muted" }, "People who can sign in to this page. Every admin has full access."), list, h("section", { class: "card" }, form));
  const reload = pagedList(list, {
    path: `${API}/users`,
    caption: "Admin users",
    columns: [
      { label: "Login", cell: (u) => [u.email, state.user?.id === u.id ? [" ", badge("you")] : null] },
      { label: "Created", cell: (u) => fmtTime(u.created_at) },
      { label: "Updated", cell: (u) => fmtTime(u.updated_at) },
      {
        label: "Actions",
        class: "actions-cell",
        cell: (u) => [
          button("Change password", { class: "button secondary small", onclick: () => changePassword(u) }),
          " ",
          button(icon("trash"), {
            class: "button danger-outline small",
            "aria-label": `Delete admin ${u.email}`,
            title: "Delete admin",
            onclick: async () => {
              await confirmAndRun({
                title: "Delete admin?",
                message: [h("p", {}, "Delete the admin ", h("strong", {}, u.email), "? Their sessions end at once.")],
                confirmLabel: "Delete admin",
                danger: true,
                failure: "Could not delete the admin",
              }, async () => {
                await api("DELETE", `${API}/users/${u.id}`);
                reload();
              });
            },
          }),
        ],
      },
    ],
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await api("POST", `${API}/users`, { user: { email: email.value.trim(), password: password.value } });
      email.value = "";
      password.value = "";
      reload();
    });
  });
}

function changePassword(user) {
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", minlength: "12", required: true });
  const form = h("form", { class: "stack", novalidate: true }, field("New password", password, { name: "password", hint: "At least 12 characters. Other sessions of this admin end." }));
  const save = h("button", { type: "submit", class: "button primary" }, "Save password");
  const dialog = openDialog({
    title: `Change password of ${user.email}`,
    content: form,
    actions: [button("Cancel", { class: "button secondary", onclick: () => dialog.close() })],
  });
  form.append(h("div", { class: "form-actions" }, save));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await api("PATCH", `${API}/users/${user.id}`, { user: { password: password.value } });
      dialog.close();
    });
  });
  password.focus();
}

// ---------------------------------------------------------------------------------------------
// Boot

async function boot() {
  $("logout").addEventListener("click", logout);
  $("menu-toggle").addEventListener("click", () => {
    const open = $("nav").classList.toggle("open");
    $("menu-toggle").setAttribute("aria-expanded", String(open));
  });
  try {
    const me = await api("GET", `${API}/me`);
    setSignedIn(me.user);
  } catch {
    setSignedIn(null);
  }
  window.addEventListener("hashchange", route);
  route();
}

boot();
