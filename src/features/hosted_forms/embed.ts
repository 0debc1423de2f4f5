/**
 * `embed.js` (docs/api-reference.md §10.1): a self-contained script that draws the form into the
 * page that includes it — `inline` where the script tag stands, `popup` as a centred dialog,
 * `slide-in` in a bottom corner — and posts JSON to the form's URL (CORS, §10.1 Origin rules),
 * then shows the post-submission blocks. It carries the form and its enabled variants with their
 * weights, draws one (sticky per browser in localStorage: cross-site cookies are unreliable),
 * shows it on its trigger with its theme (embed-settings.ts), and counts a view once it is shown.
 * Content is set with textContent only (never parsed as HTML), styles through the CSSOM with
 * values checked on the server; the form's data travels as JSON in the script.
 */
import type { FormBlock, OptInForm } from "@/db/schema";
import { variantWeight } from "@/features/opt_in_forms/variants";
import { widgetOptions } from "./embed-settings";
import { inputName } from "./page";

const publicBlock = (b: FormBlock) => ({
  type: b.block_type,
  text: b.text_value,
  label: b.input_field_label,
  placeholder: b.input_field_placeholder,
  name: b.input_field_value_type ? inputName(b.input_field_value_type) : null,
  email: b.input_field_value_type === "email",
  required: b.required,
  button: b.button_label,
});

const byPosition = (blocks: FormBlock[]) => [...blocks].sort((a, b) => a.position - b.position).map(publicBlock);

const drawable = (form: OptInForm) => ({
  id: form.id,
  weight: variantWeight(form),
  label: form.label,
  widget: form.widget_type,
  blocks: byPosition(form.blocks),
  after: byPosition(form.post_submission_blocks),
  o: widgetOptions(form),
});

/** The widget for `form` and its enabled `variants`, posting to `action` (the form's absolute URL). */
export function embedScript(form: OptInForm, variants: OptInForm[], action: string): string {
  const data = { id: form.id, action, view: `${action}/view`, forms: [form, ...variants.filter((v) => v.enabled)].map(drawable) };
  // `<` escaped so the JSON can never close a surrounding <script> element.
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `(function () {
  var d = ${json};
  var me = document.currentScript;
  function stored(key, value) {
    try { if (value === undefined) return localStorage.getItem(key); localStorage.setItem(key, value); } catch (e) {}
    return null;
  }
  function el(tag, text) { var e = document.createElement(tag); if (text) e.textContent = text; return e; }
  // The variant this browser saw before, else one drawn by weight.
  var pickKey = "mr_form_" + d.id, f = null, kept = stored(pickKey);
  d.forms.forEach(function (x) { if (String(x.id) === kept) f = x; });
  if (!f) {
    var left = Math.random() * d.forms.reduce(function (n, x) { return n + x.weight; }, 0);
    for (var k = 0; k < d.forms.length && !f; k++) { left -= d.forms[k].weight; if (left < 0) f = d.forms[k]; }
    f = f || d.forms[0];
    stored(pickKey, String(f.id));
  }
  var o = f.o, theme = o.theme, seenKey = "mr_form_seen_" + d.id, floating = f.widget !== "inline";
  var seen = Number(stored(seenKey));
  if (floating && o.show_once_per_days && seen && Date.now() - seen < o.show_once_per_days * 86400000) return;
  function dismissed() { if (o.show_once_per_days) stored(seenKey, String(Date.now())); }

  var box = el("div");
  box.setAttribute("data-mailroom-form", "");
  box.style.cssText = "max-width:28rem;padding:1rem;border:1px solid #ccc;box-sizing:border-box";
  box.style.fontFamily = theme.font_family;
  box.style.background = theme.background_color;
  box.style.color = theme.text_color;
  box.style.borderRadius = theme.border_radius + "px";
  function submitButton(text) {
    var s = el("button", text || "Subscribe"); s.type = "submit";
    s.style.cssText = "border:0;padding:.5rem 1rem;cursor:pointer;color:#fff";
    s.style.background = theme.primary_color; s.style.borderRadius = theme.border_radius + "px";
    return s;
  }
  var form = el("form");
  form.noValidate = true;
  var hasButton = false;
  f.blocks.forEach(function (b, i) {
    var p = el("p");
    if (b.type === "text") p.textContent = b.text || "";
    else if (b.type === "button") { hasButton = true; p.appendChild(submitButton(b.button)); }
    else {
      var id = "mr-" + Math.random().toString(36).slice(2) + "-" + i;
      var l = el("label", b.label || (b.email ? "Email" : b.name)); l.htmlFor = id;
      var input = el("input"); input.id = id; input.name = b.name; input.type = b.email ? "email" : "text";
      if (b.placeholder) input.placeholder = b.placeholder;
      if (b.required || b.email) input.required = true;
      input.style.cssText = "width:100%;padding:.4rem;box-sizing:border-box";
      p.appendChild(l); p.appendChild(el("br")); p.appendChild(input);
    }
    form.appendChild(p);
  });
  if (!hasButton) form.appendChild(submitButton());
  var status = el("p"); status.setAttribute("role", "status");
  form.appendChild(status);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = {};
    Array.prototype.forEach.call(form.elements, function (x) { if (x.name) body[x.name] = x.value; });
    if (f.id !== d.id) body.variant_id = f.id;
    status.textContent = "";
    fetch(d.action, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = res.j.error || "Something went wrong"; return; }
        dismissed();
        Array.prototype.slice.call(box.childNodes).forEach(function (n) { if (n !== close) box.removeChild(n); });
        (f.after.length ? f.after : [{ type: "text", text: "Thank you! Please check your inbox." }]).forEach(function (b) { box.appendChild(el("p", b.text || b.button || "")); });
      })
      .catch(function () { status.textContent = "Something went wrong"; });
  });
  box.appendChild(form);
  // A view is the form actually shown (§10: unique per day on the server).
  function counted() { fetch(d.view + "?variant_id=" + f.id, { method: "POST" }).catch(function () {}); }
  var close = null;
  if (!floating) { me.parentNode.insertBefore(box, me); counted(); return; }
  if (o.close_button) {
    close = el("button", "\\u00d7"); close.type = "button"; close.setAttribute("aria-label", "Close");
    close.style.cssText = "float:right;border:0;background:none;color:inherit;font-size:1.4rem;cursor:pointer";
    close.addEventListener("click", function () { dismissed(); box.remove(); });
    box.insertBefore(close, box.firstChild);
  }
  box.setAttribute("role", "dialog"); box.setAttribute("aria-label", f.label);
  box.style.position = "fixed"; box.style.zIndex = "2147483647"; box.style.boxShadow = "0 4px 24px rgba(0,0,0,.25)";
  if (f.widget === "popup") { box.style.top = "50%"; box.style.left = "50%"; box.style.transform = "translate(-50%,-50%)"; }
  else { box.style.bottom = "1rem"; box.style[o.position === "bottom-left" ? "left" : "right"] = "1rem"; }
  var shown = false;
  function show() { if (shown) return; shown = true; document.body.appendChild(box); counted(); }
  function scrolledFar() {
    var root = document.documentElement;
    if ((window.scrollY + window.innerHeight) * 100 >= root.scrollHeight * o.scroll_percent) { window.removeEventListener("scroll", scrolledFar); show(); }
  }
  function leaving(ev) { if (!ev.relatedTarget && ev.clientY <= 0) { document.removeEventListener("mouseout", leaving); show(); } }
  if (o.trigger === "delay") setTimeout(show, o.delay_seconds * 1000);
  else if (o.trigger === "scroll") { window.addEventListener("scroll", scrolledFar, { passive: true }); scrolledFar(); }
  else if (o.trigger === "exit_intent") document.addEventListener("mouseout", leaving);
  else show();
})();
`;
}
