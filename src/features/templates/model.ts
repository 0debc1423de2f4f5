/**
 * Template fields and JSON (docs/api-reference.md §8). Liquid in subject, preheader and body is checked on save.
 */
import type { Channel, Template } from "@/db/schema";
import type { FieldErrors } from "@/lib/errors";
import { t, type Static } from "elysia";
import { f, result } from "@/input/fields";
import { Int, Strict, Time } from "@/input/schemas";
import { checkLiquid } from "@/lib/liquid";
import { toIso } from "@/lib/time";

const BODY_MAX_BYTES = 1024 * 1024;
export const CONFIRMATION_PAGE_STATES = ["confirmed", "already_confirmed", "expired", "invalid"] as const;
const PAGE_TEXT_MAX = { heading: 200, body: 5000 } as const;

/** Body: kept verbatim (no trim), ≤ 1 MiB in UTF-8. */
const body = f.custom(
  (v) => {
    if (typeof v !== "string") return result.err("must be a string");
    if (Buffer.byteLength(v, "utf8") > BODY_MAX_BYTES) return result.err(`is too long (maximum is ${BODY_MAX_BYTES} bytes)`);
    return result.ok(v);
  },
  { nullable: true, schema: { type: "string", description: "Liquid; at most 1 MiB in UTF-8" } },
);

/** Shape only; per-state text limits are reported on their own dot-paths by `confirmationPageErrors`. */
const PAGE_STATE_SCHEMA = { type: "object", properties: { heading: { type: ["string", "null"], maxLength: 200 }, body: { type: ["string", "null"], maxLength: 5000 } } };
const pageSettings = f.custom((v) => (isPlainObject(v) ? result.ok(v) : result.err("must be an object")), {
  nullable: true,
  schema: { type: "object", properties: Object.fromEntries(CONFIRMATION_PAGE_STATES.map((s) => [s, PAGE_STATE_SCHEMA])) },
});

export const TemplateFields = {
  label: f.string({ required: true, max: 255 }),
  subject: f.string({ max: 998, nullable: true, trim: false }),
  preheader: f.string({ max: 255, nullable: true, trim: false }),
  body,
  html_body: f.boolean(),
  template_purpose: f.enum(["general", "confirmation"] as const),
  confirmation_text: f.string({ max: 100, nullable: true }),
  default_confirmation: f.boolean(),
  confirmation_page_settings: pageSettings,
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `{state: {heading ≤200, body ≤5000}}` for the four confirmation page states; errors keyed by dot-path. */
export function confirmationPageErrors(settings: Record<string, unknown>): FieldErrors {
  const errors: FieldErrors = {};
  const base = "confirmation_page_settings";
  for (const [state, value] of Object.entries(settings)) {
    const path = `${base}.${state}`;
    if (!(CONFIRMATION_PAGE_STATES as readonly string[]).includes(state)) {
      errors[path] = [`is not a confirmation page state (${CONFIRMATION_PAGE_STATES.join(", ")})`];
      continue;
    }
    if (!isPlainObject(value)) {
      errors[path] = ["must be an object"];
      continue;
    }
    for (const [key, text] of Object.entries(value)) {
      const max = PAGE_TEXT_MAX[key as keyof typeof PAGE_TEXT_MAX];
      if (max === undefined) errors[`${path}.${key}`] = ["is not a confirmation page setting (heading, body)"];
      else if (text !== null && typeof text !== "string") errors[`${path}.${key}`] = ["must be a string"];
      else if (typeof text === "string" && [...text].length > max) errors[`${path}.${key}`] = [`is too long (maximum is ${max} characters)`];
    }
  }
  return errors;
}

/** Liquid syntax errors of the templated fields present in `values`. */
export function liquidErrors(values: Record<string, unknown>): FieldErrors {
  const errors: FieldErrors = {};
  for (const field of ["subject", "preheader", "body"]) {
    const message = checkLiquid(values[field] as string | null | undefined);
    if (message) errors[field] = [message];
  }
  return errors;
}

/** The §8 template object. */
export const TemplateSchema = Strict({
  id: Int(),
  channel: t.String(),
  label: t.String(),
  subject: t.Union([t.String(), t.Null()]),
  preheader: t.Union([t.String(), t.Null()]),
  body: t.Union([t.String(), t.Null()]),
  html_body: t.Boolean(),
  template_purpose: t.Union([t.Literal("general"), t.Literal("confirmation")]),
  confirmation_text: t.Union([t.String(), t.Null()]),
  default_confirmation: t.Boolean(),
  confirmation_page_settings: t.Record(t.String(), t.Unknown()),
  created_at: Time,
  updated_at: Time,
});

export function encodeTemplate(tpl: Template, channel: Pick<Channel, "slug">): Static<typeof TemplateSchema> {
  return {
    id: tpl.id,
    channel: channel.slug,
    label: tpl.label,
    subject: tpl.subject,
    preheader: tpl.preheader,
    body: tpl.body,
    html_body: tpl.html_body,
    template_purpose: tpl.template_purpose,
    confirmation_text: tpl.confirmation_text,
    default_confirmation: tpl.default_confirmation,
    confirmation_page_settings: tpl.confirmation_page_settings,
    created_at: toIso(tpl.created_at),
    updated_at: toIso(tpl.updated_at),
  };
}
export type TemplateJson = Static<typeof TemplateSchema>;
