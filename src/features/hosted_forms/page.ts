/**
 * The hosted form's HTML (§10.1): server-rendered from the form's blocks, self-contained (inline
 * style only, no script, no external resource), each input with its label, the honeypot hidden from
 * people and assistive technology. `submitted` renders the post-submission blocks instead.
 */
import type { FormBlock, OptInForm } from "@/db/schema";
import { escapeHtml } from "@/lib/html";

/** The honeypot field: people never see it, bots fill it. */
export const HONEYPOT = "website";

const INPUT_TYPES: Record<string, string> = { email: "email", first_name: "text", last_name: "text", name: "text" };
const AUTOCOMPLETE: Record<string, string> = { email: "email", first_name: "given-name", last_name: "family-name", name: "name" };

/** The submitted name of an input: `email`, `first_name`, … or `custom[<key>]`. */
export const inputName = (valueType: string) => (valueType.startsWith("custom:") ? `custom[${valueType.slice(7)}]` : valueType);

function block(b: FormBlock, errors: Record<string, string>, values: Record<string, string>): string {
  const css = b.custom_css ? ` style="${escapeHtml(b.custom_css)}"` : "";
  if (b.block_type === "text") return `<p${css}>${escapeHtml(b.text_value ?? "")}</p>`;
  if (b.block_type === "button") return `<p><button type="submit"${css}>${escapeHtml(b.button_label || "Subscribe")}</button></p>`;
  const type = b.input_field_value_type ?? "email";
  const name = inputName(type);
  const id = `f-${b.id}`;
  const label = b.input_field_label || (type === "email" ? "Email" : type.replace(/^custom:/, "").replace(/_/g, " "));
  const error = errors[name];
  const attrs = [
    `id="${id}"`, `name="${escapeHtml(name)}"`, `type="${INPUT_TYPES[type] ?? "text"}"`,
    ...(AUTOCOMPLETE[type] ? [`autocomplete="${AUTOCOMPLETE[type]}"`] : []),
    ...(b.required || type === "email" ? ["required"] : []),
    ...(b.input_field_placeholder ? [`placeholder="${escapeHtml(b.input_field_placeholder)}"`] : []),
    ...(values[name] ? [`value="${escapeHtml(values[name])}"`] : []),
    ...(error ? [`aria-invalid="true" aria-describedby="${id}-error"`] : []),
  ];
  return `<p${css}><label for="${id}">${escapeHtml(label)}</label><br><input ${attrs.join(" ")} style="width:100%;padding:.5rem;box-sizing:border-box">` +
    (error ? `<br><span id="${id}-error" role="alert" style="color:#b00">${escapeHtml(error)}</span>` : "") + "</p>";
}

const hasButton = (blocks: FormBlock[]) => blocks.some((b) => b.block_type === "button");

/**
 * The whole page: the form (optionally with errors and the values sent), or the post-submission
 * view. A variant shown in place of `variantOf` posts its id (`variant_id`).
 */
export function renderFormPage(form: OptInForm, o: { submitted?: boolean; errors?: Record<string, string>; values?: Record<string, string>; variantOf?: OptInForm } = {}): string {
  const byPosition = (blocks: FormBlock[]) => [...blocks].sort((a, b) => a.position - b.position);
  let main: string;
  if (o.submitted) {
    const blocks = byPosition(form.post_submission_blocks);
    main = blocks.length ? blocks.map((b) => block(b, {}, {})).join("") : "<p>Thank you! Please check your inbox.</p>";
  } else {
    const blocks = byPosition(form.blocks);
    const honeypot = form.security_settings.honeypot
      ? `<div aria-hidden="true" style="position:absolute;left:-10000px"><label for="f-hp">Leave empty</label><input id="f-hp" name="${HONEYPOT}" type="text" tabindex="-1" autocomplete="off"></div>`
      : "";
    const fields = blocks.map((b) => block(b, o.errors ?? {}, o.values ?? {})).join("");
    const variant = o.variantOf && o.variantOf.id !== form.id ? `<input type="hidden" name="variant_id" value="${form.id}">` : "";
    main = `<form method="post" novalidate>${fields}${variant}${honeypot}${hasButton(blocks) ? "" : '<p><button type="submit">Subscribe</button></p>'}</form>`;
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
    `<title>${escapeHtml(form.label)}</title></head><body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">` +
    `<main><h1>${escapeHtml(form.label)}</h1>${main}</main></body></html>`;
}
