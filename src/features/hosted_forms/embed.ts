/**
 * `embed.js` (§10.1): a self-contained script that draws the form into the page that includes it —
 * `inline` where the script tag stands, `popup` as a centred dialog, `slide-in` in the bottom
 * corner — and posts JSON to the form's URL (CORS, §10.1 Origin rules), then shows the
 * post-submission blocks. Content is set with textContent only (never parsed as HTML); the form's
 * data travels as JSON in the script.
 */
import type { FormBlock, OptInForm } from "@/db/schema";
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

/** The widget for `form`, posting to `action` (its absolute URL). */
export function embedScript(form: OptInForm, action: string): string {
  const byPosition = (blocks: FormBlock[]) => [...blocks].sort((a, b) => a.position - b.position).map(publicBlock);
  const data = { action, label: form.label, widget: form.widget_type, blocks: byPosition(form.blocks), after: byPosition(form.post_submission_blocks) };
  // `<` escaped so the JSON can never close a surrounding <script> element.
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `(function () {
  var f = ${json};
  var me = document.currentScript;
  function el(tag, text) { var e = document.createElement(tag); if (text) e.textContent = text; return e; }
  var box = el("div");
  box.setAttribute("data-mailroom-form", "");
  box.style.cssText = "font-family:sans-serif;max-width:28rem;padding:1rem;background:#fff;color:#111;border:1px solid #ccc;border-radius:6px;box-sizing:border-box";
  var form = el("form");
  form.noValidate = true;
  var hasButton = false;
  f.blocks.forEach(function (b, i) {
    var p = el("p");
    if (b.type === "text") p.textContent = b.text || "";
    else if (b.type === "button") { hasButton = true; var s = el("button", b.button || "Subscribe"); s.type = "submit"; p.appendChild(s); }
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
  if (!hasButton) { var s = el("button", "Subscribe"); s.type = "submit"; form.appendChild(s); }
  var status = el("p"); status.setAttribute("role", "status");
  form.appendChild(status);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = {};
    Array.prototype.forEach.call(form.elements, function (x) { if (x.name) body[x.name] = x.value; });
    status.textContent = "";
    fetch(f.action, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = res.j.error || "Something went wrong"; return; }
        box.textContent = "";
        (f.after.length ? f.after : [{ type: "text", text: "Thank you! Please check your inbox." }]).forEach(function (b) { box.appendChild(el("p", b.text || b.button || "")); });
      })
      .catch(function () { status.textContent = "Something went wrong"; });
  });
  box.appendChild(form);
  if (f.widget === "inline") { me.parentNode.insertBefore(box, me); return; }
  var close = el("button", "\\u00d7"); close.type = "button"; close.setAttribute("aria-label", "Close");
  close.style.cssText = "float:right;border:0;background:none;font-size:1.4rem;cursor:pointer";
  close.addEventListener("click", function () { box.remove(); });
  box.insertBefore(close, box.firstChild);
  box.setAttribute("role", "dialog"); box.setAttribute("aria-label", f.label);
  box.style.position = "fixed"; box.style.zIndex = "2147483647"; box.style.boxShadow = "0 4px 24px rgba(0,0,0,.25)";
  if (f.widget === "popup") { box.style.top = "50%"; box.style.left = "50%"; box.style.transform = "translate(-50%,-50%)"; }
  else { box.style.right = "1rem"; box.style.bottom = "1rem"; }
  document.body.appendChild(box);
})();
`;
}
