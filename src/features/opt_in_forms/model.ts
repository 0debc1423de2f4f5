/**
 * Opt-in form fields and JSON (docs/api-reference.md §10). Settings objects are kept verbatim (≤ 16 KiB each)
 * except `automation_settings` and `security_settings`, whose keys are checked and defaulted.
 */
import { t, type Static } from "elysia";
import type { Channel, FormBlock, OptInForm } from "@/db/schema";
import type { FieldErrors } from "@/lib/errors";
import { coerceBoolean, f, idListField, result, type ReadContext } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { toIso } from "@/lib/time";
import type { FormTotals } from "./analytics";
import { readBlocks } from "./blocks";

const WIDGET_TYPES = ["inline", "popup", "slide-in"] as const;
export type WidgetType = (typeof WIDGET_TYPES)[number];
const SETTINGS_MAX_BYTES = 16 * 1024;
const MAX_DOMAINS = 50;
const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** `web` | `embed`; Broadcast's `inline|popup|slide-in` mean `embed` with that widget (`value_adjusted`). */
const formType = f.custom(
  (v, at) => {
    if (v === "web" || v === "embed") return result.ok({ type: v as "web" | "embed", widget: null as WidgetType | null });
    if (!WIDGET_TYPES.includes(v as WidgetType)) return result.err("must be web or embed");
    at.warnings.push({ code: "value_adjusted", param: at.param, message: `form_type ${v} was stored as form_type embed with widget_type ${v}` });
    return result.ok({ type: "embed" as const, widget: v as WidgetType });
  },
  { schema: { type: "string", enum: ["web", "embed", ...WIDGET_TYPES] } },
);

const settings = f.custom(
  (v) => (!isObject(v) ? result.err("must be an object") : Buffer.byteLength(JSON.stringify(v)) > SETTINGS_MAX_BYTES ? result.err(`is too large (maximum is ${SETTINGS_MAX_BYTES} bytes)`) : result.ok(v)),
  { nullable: true, nullAs: {}, schema: { type: "object", description: `Kept verbatim, at most ${SETTINGS_MAX_BYTES} bytes` } },
);

const domains = f.custom(
  (v, at) => {
    if (!Array.isArray(v)) return result.err("must be an array of host names");
    if (v.length > MAX_DOMAINS) return result.err(`has too many domains (maximum is ${MAX_DOMAINS})`);
    const hosts = v.map((d, i) => {
      const host = typeof d === "string" ? d.trim().toLowerCase() : "";
      if (!HOST.test(host) || host.length > 253) (at.errors[`${at.param}.${i}`] ??= []).push("is not a host name (example.com or *.example.com)");
      return host;
    });
    return result.ok([...new Set(hosts)]);
  },
  { nullable: true, nullAs: [], schema: { type: "array", items: { type: "string" }, maxItems: MAX_DOMAINS, description: "Host names, *.example.com allowed; empty = any" } },
);

export interface AutomationSettings {
  tag_list: string | null;
  send_welcome_email: boolean;
  double_opt_in: boolean;
  sequence_ids: number[];
}

/** At most this many sequences per form (like a broadcast's `segment_ids`). */
const MAX_SEQUENCES = 50;
const sequenceIds = idListField(MAX_SEQUENCES);

/** `{tag_list, send_welcome_email, double_opt_in, sequence_ids}`; other keys are refused by dot-path. */
function readAutomation(v: unknown, at: ReadContext) {
  if (!isObject(v)) return result.err("must be an object");
  const out: AutomationSettings = { tag_list: null, send_welcome_email: false, double_opt_in: false, sequence_ids: [] };
  const err = (key: string, message: string) => void (at.errors[`${at.param}.${key}`] ??= []).push(message);
  for (const [key, value] of Object.entries(v)) {
    if (key === "tag_list") {
      if (value === null) continue;
      const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : null;
      if (!list || list.some((tag) => typeof tag !== "string")) err(key, "must be a comma-separated string or an array of strings");
      else out.tag_list = list.map((tag: string) => tag.trim()).filter(Boolean).join(",") || null;
    } else if (key === "send_welcome_email" || key === "double_opt_in") {
      const b = coerceBoolean(value);
      if (b === null) err(key, "must be true or false");
      else out[key] = b;
    } else if (key === "sequence_ids") {
      // Ids as everywhere (digit strings too, §1.2); whether they are sequences of the form's channel is the service's check.
      const ids = value === null ? result.ok([]) : sequenceIds.read(value, { ...at, param: `${at.param}.${key}` });
      if ("value" in ids) out.sequence_ids = ids.value ?? [];
      else if ("error" in ids) err(key, ids.error);
    } else err(key, "is not an automation setting (tag_list, send_welcome_email, double_opt_in, sequence_ids)");
  }
  return result.ok(out);
}

export interface SecuritySettings {
  honeypot: boolean;
  submissions_per_ip_per_hour: number;
}

/** `{honeypot (true), submissions_per_ip_per_hour (1–1000, 10)}`. */
function readSecurity(v: unknown, at: { param: string; errors: FieldErrors }) {
  if (!isObject(v)) return result.err("must be an object");
  const out: SecuritySettings = { honeypot: true, submissions_per_ip_per_hour: 10 };
  for (const [key, value] of Object.entries(v)) {
    const path = `${at.param}.${key}`;
    if (key === "honeypot") {
      const b = coerceBoolean(value);
      if (b === null) (at.errors[path] ??= []).push("must be true or false");
      else out.honeypot = b;
    } else if (key === "submissions_per_ip_per_hour") {
      if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > 1000) (at.errors[path] ??= []).push("must be an integer from 1 to 1000");
      else out.submissions_per_ip_per_hour = value as number;
    } else (at.errors[path] ??= []).push("is not a security setting (honeypot, submissions_per_ip_per_hour)");
  }
  return result.ok(out);
}

const blocks = f.custom((v, at) => result.ok(readBlocks(v, at.param, at.errors)), { schema: { type: "array", maxItems: 50, items: { type: "object" } } });

export const OptInFormFields = {
  label: f.string({ required: true, max: 255 }),
  form_type: formType,
  widget_type: f.enum(WIDGET_TYPES),
  enabled: f.boolean(),
  allowed_embedding_domains: domains,
  theme_settings: settings,
  trigger_settings: settings,
  widget_settings: settings,
  automation_settings: f.custom(readAutomation, { schema: { type: "object", description: "tag_list, send_welcome_email, double_opt_in, sequence_ids" } }),
  confirmation_email_template_id: f.integer({ nullable: true, description: "A confirmation template of the channel" }),
  welcome_email_template_id: f.integer({ nullable: true, description: "A template of the channel" }),
  security_settings: f.custom(readSecurity, { schema: { type: "object", description: "honeypot (true), submissions_per_ip_per_hour (1–1000, 10)" } }),
  variant_name: f.string({ max: 255, min: 1, description: "Variants only" }),
  variant_weight: f.integer({ min: 1, max: 100, description: "Variants only: share of the hosted page's views (the form itself counts 50)" }),
  opt_in_form_blocks: blocks,
  opt_in_form_blocks_attributes: blocks,
  opt_in_post_submission_blocks: blocks,
  opt_in_post_submission_blocks_attributes: blocks,
};

export const OptInFormFilters = {
  filter: f.string({ description: "Label substring (case-insensitive)" }),
  widget_type: f.enum(WIDGET_TYPES),
  enabled: f.boolean(),
};

const BlockSchema = Strict({
  id: Int(),
  block_type: t.String(),
  form_view: t.String(),
  position: Int(),
  text_value: Nullable(t.String()),
  input_field_label: Nullable(t.String()),
  input_field_placeholder: Nullable(t.String()),
  input_field_value_type: Nullable(t.String()),
  required: t.Boolean(),
  button_label: Nullable(t.String()),
  custom_css: Nullable(t.String()),
});
const Settings = t.Record(t.String(), t.Unknown());

export const OptInFormSchema = Strict({
  id: Int(),
  channel: t.String(),
  identifier: t.String(),
  label: t.String(),
  form_type: t.String(),
  widget_type: t.String(),
  enabled: t.Boolean(),
  allowed_embedding_domains: t.Array(t.String()),
  theme_settings: Settings,
  automation_settings: Settings,
  confirmation_email_template_id: Nullable(Int()),
  welcome_email_template_id: Nullable(Int()),
  security_settings: Settings,
  trigger_settings: Settings,
  widget_settings: Settings,
  analytics: Strict({ views_count: Int(), unique_views_count: Int(), submissions_count: Int(), conversion_rate: t.Number() }),
  is_variant: t.Boolean(),
  parent_form_id: Nullable(Int()),
  variant_name: Nullable(t.String()),
  variant_weight: Nullable(Int()),
  variants_count: Int(),
  opt_in_form_blocks: t.Array(BlockSchema),
  opt_in_post_submission_blocks: t.Array(BlockSchema),
  hosted_url: t.String(),
  embed_url: t.String(),
  created_at: Time,
  updated_at: Time,
});

const NO_VIEWS: FormTotals = { views_count: 0, unique_views_count: 0, submissions_count: 0, conversion_rate: 0 };

export function encodeOptInForm(form: OptInForm, channel: Pick<Channel, "slug">, publicUrl: string, totals = NO_VIEWS, variants = 0): Static<typeof OptInFormSchema> {
  const hosted = `${publicUrl}/f/${form.identifier}`;
  return {
    id: form.id,
    channel: channel.slug,
    identifier: form.identifier,
    label: form.label,
    form_type: form.form_type,
    widget_type: form.widget_type,
    enabled: form.enabled,
    allowed_embedding_domains: form.allowed_embedding_domains,
    theme_settings: form.theme_settings,
    automation_settings: form.automation_settings,
    confirmation_email_template_id: form.confirmation_email_template_id,
    welcome_email_template_id: form.welcome_email_template_id,
    security_settings: form.security_settings as unknown as Record<string, unknown>,
    trigger_settings: form.trigger_settings,
    widget_settings: form.widget_settings,
    analytics: totals,
    is_variant: form.parent_form_id !== null,
    parent_form_id: form.parent_form_id,
    variant_name: form.variant_name,
    variant_weight: form.variant_weight,
    variants_count: variants,
    opt_in_form_blocks: form.blocks satisfies FormBlock[],
    opt_in_post_submission_blocks: form.post_submission_blocks,
    hosted_url: hosted,
    embed_url: `${hosted}/embed.js`,
    created_at: toIso(form.created_at),
    updated_at: toIso(form.updated_at),
  };
}
