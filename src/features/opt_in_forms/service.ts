/**
 * Opt-in forms (docs/api-reference.md §10): CRUD of channel-owned forms. A form's templates must be templates of
 * its channel (the confirmation one of purpose `confirmation`), and keep them in use (registered
 * as a template reference in boot.ts).
 */
import { randomUUID } from "node:crypto";
import { and, asc, count, eq, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import { assertInScope, requireSomeChannel, type Scope } from "@/auth/scope";
import type { Db } from "@/db/client";
import { idsInChannel } from "@/db/owned";
import { opt_in_forms, sequences, templates, type Channel, type OptInForm } from "@/db/schema";
import type { Deps } from "@/deps";
import type { PageParams } from "@/input/pagination";
import type { FieldValues } from "@/input/fields";
import { notFound, validationError, type FieldErrors } from "@/lib/errors";
import { numberBlocks, withEmailInput } from "./blocks";
import type { OptInFormFields, OptInFormFilters } from "./model";

const RESOURCE = "Opt-in form";
type Changes = FieldValues<typeof OptInFormFields, true>;

/** Forms of T, oldest first, with the total; `filter` matches the label case-insensitively. */
export function listForms(deps: Deps, scope: Scope, filters: FieldValues<typeof OptInFormFilters, true>, page: PageParams) {
  requireSomeChannel(scope);
  // Variants are reached through their form (§10), not listed.
  const where: SQL[] = [inArray(opt_in_forms.channel_id, [...scope.channelIds]), isNull(opt_in_forms.parent_form_id)];
  if (filters.filter) where.push(sql`instr(lower(${opt_in_forms.label}), ${filters.filter.toLowerCase()}) > 0`);
  if (filters.widget_type) where.push(eq(opt_in_forms.widget_type, filters.widget_type));
  if (filters.enabled !== undefined) where.push(eq(opt_in_forms.enabled, filters.enabled));
  const cond = and(...where);
  const rows = deps.db.select().from(opt_in_forms).where(cond).orderBy(asc(opt_in_forms.id)).limit(page.limit).offset(page.offset).all();
  return { rows, total: deps.db.select({ n: count() }).from(opt_in_forms).where(cond).get()!.n };
}

/** A form of T. @throws 404 "Opt-in form not found". */
export function getForm(deps: Deps, scope: Scope, id: number): OptInForm {
  const row = deps.db.select().from(opt_in_forms).where(eq(opt_in_forms.id, id)).get();
  if (!row) throw notFound(RESOURCE);
  assertInScope(scope, row.channel_id, RESOURCE);
  return row;
}

/** The form with public `identifier` (the hosted form's id), or undefined. */
export const formByIdentifier = (deps: Deps, identifier: string) => deps.db.select().from(opt_in_forms).where(eq(opt_in_forms.identifier, identifier)).get();

/** The form with id `id`, or undefined. */
export const formById = (deps: Deps, id: number) => deps.db.select().from(opt_in_forms).where(eq(opt_in_forms.id, id)).get();

/** The stored columns a create or update sets from the given fields (blocks numbered after `lastBlockId`). */
function columns(deps: Deps, channelId: number, v: Changes, lastBlockId: number, isVariant = false) {
  const errors: FieldErrors = {};
  const out: Partial<OptInForm> = {};
  for (const k of ["label", "widget_type", "enabled", "allowed_embedding_domains", "theme_settings", "trigger_settings", "widget_settings"] as const) {
    if (v[k] !== undefined) out[k] = v[k] as never;
  }
  for (const k of ["variant_name", "variant_weight"] as const) {
    if (v[k] === undefined) continue;
    if (!isVariant) errors[k] = ["can only be set on a variant"];
    else out[k] = v[k] as never;
  }
  if (v.form_type) {
    out.form_type = v.form_type.type;
    if (v.form_type.widget) out.widget_type = v.form_type.widget;
  }
  if (v.automation_settings) {
    out.automation_settings = { ...v.automation_settings };
    const ids = v.automation_settings.sequence_ids;
    const known = new Set(idsInChannel(deps.db, sequences, channelId, ids));
    ids.forEach((id, i) => known.has(id) || (errors[`automation_settings.sequence_ids.${i}`] = ["does not exist in this channel"]));
  }
  if (v.security_settings) out.security_settings = v.security_settings;
  for (const key of ["confirmation_email_template_id", "welcome_email_template_id"] as const) {
    const id = v[key];
    if (id === undefined) continue;
    out[key] = id;
    if (id === null) continue;
    const t = deps.db.select({ purpose: templates.template_purpose }).from(templates).where(and(eq(templates.id, id), eq(templates.channel_id, channelId))).get();
    if (!t) errors[key] = ["does not exist in this channel"];
    else if (key === "confirmation_email_template_id" && t.purpose !== "confirmation") errors[key] = ["is not a confirmation template"];
  }
  const initial = v.opt_in_form_blocks ?? v.opt_in_form_blocks_attributes;
  const after = v.opt_in_post_submission_blocks ?? v.opt_in_post_submission_blocks_attributes;
  if (initial) out.blocks = numberBlocks(withEmailInput(initial, "opt_in_form_blocks", errors), "initial_view", lastBlockId + 1);
  if (after) out.post_submission_blocks = numberBlocks(after, "post_submission", lastBlockId + (out.blocks?.length ?? 0) + 1);
  if (Object.keys(errors).length) throw validationError(errors);
  return out;
}

const lastBlockId = (f: Pick<OptInForm, "blocks" | "post_submission_blocks">) => Math.max(0, ...[...f.blocks, ...f.post_submission_blocks].map((b) => b.id));

/** Creates a form; without blocks it gets the required email input. @throws 422. */
export function createForm(deps: Deps, channel: Channel, v: Changes & { label: string }): OptInForm {
  const set = columns(deps, channel.id, { ...v, opt_in_form_blocks: v.opt_in_form_blocks ?? v.opt_in_form_blocks_attributes ?? [] }, 0);
  const now = deps.clock.now();
  return deps.db
    .insert(opt_in_forms)
    .values({
      channel_id: channel.id,
      identifier: randomUUID(),
      label: v.label,
      form_type: "embed",
      widget_type: "inline",
      enabled: true,
      allowed_embedding_domains: [],
      theme_settings: {},
      trigger_settings: {},
      widget_settings: {},
      automation_settings: { tag_list: null, send_welcome_email: false, double_opt_in: false, sequence_ids: [] },
      security_settings: { honeypot: true, submissions_per_ip_per_hour: 10 },
      blocks: [],
      post_submission_blocks: [],
      ...set,
      created_at: now,
      updated_at: now,
    })
    .returning()
    .get();
}

/** PATCH: given fields replace (a present blocks array replaces that set). @throws 422. */
export function updateForm(deps: Deps, form: OptInForm, v: Changes): OptInForm {
  const set = columns(deps, form.channel_id, v, lastBlockId(form), form.parent_form_id !== null);
  if (Object.keys(set).length === 0) return form;
  return deps.db.update(opt_in_forms).set({ ...set, updated_at: deps.clock.now() }).where(eq(opt_in_forms.id, form.id)).returning().get()!;
}

/** A new top-level form (also from a variant) with the settings and blocks of `form` (block ids from 1), a new identifier and `label`. */
export function duplicateForm(deps: Deps, form: OptInForm, label: string | undefined): OptInForm {
  const { id: _id, identifier: _identifier, created_at: _created, updated_at: _updated, ...copy } = form;
  const now = deps.clock.now();
  const renumber = (blocks: OptInForm["blocks"], first: number) => blocks.map((b, i) => ({ ...b, id: first + i }));
  return deps.db
    .insert(opt_in_forms)
    .values({
      ...copy,
      identifier: randomUUID(),
      label: label ?? `${form.label} (Copy)`.slice(0, 255),
      parent_form_id: null,
      variant_name: null,
      variant_weight: null,
      blocks: renumber(form.blocks, 1),
      post_submission_blocks: renumber(form.post_submission_blocks, form.blocks.length + 1),
      created_at: now,
      updated_at: now,
    })
    .returning()
    .get();
}

/** Deletes a form and its variants. */
export function deleteForm(deps: Deps, form: OptInForm): void {
  deps.db.transaction((tx) => {
    tx.delete(opt_in_forms).where(eq(opt_in_forms.parent_form_id, form.id)).run();
    tx.delete(opt_in_forms).where(eq(opt_in_forms.id, form.id)).run();
  });
}

/** Forms naming template `templateId` (confirmation or welcome email), as "opt_in_form 5". */
export function formsUsingTemplate(db: Db, templateId: number): string[] {
  return db
    .select({ id: opt_in_forms.id })
    .from(opt_in_forms)
    .where(or(eq(opt_in_forms.confirmation_email_template_id, templateId), eq(opt_in_forms.welcome_email_template_id, templateId)))
    .orderBy(asc(opt_in_forms.id))
    .all()
    .map((f) => `opt_in_form ${f.id}`);
}
