/**
 * Templates (docs/api-reference.md §8): channel-owned, label unique per channel, Liquid checked on save, at most
 * one `default_confirmation` per channel, and no delete while something still references one.
 */
import { and, asc, count, eq, inArray, ne, sql } from "drizzle-orm";
import { assertInScope, requireSomeChannel, type Scope } from "@/auth/scope";
import type { Db } from "@/db/client";
import { templates, type Channel, type Template } from "@/db/schema";
import type { Deps } from "@/deps";
import { notFound, unprocessable, validationError, type FieldErrors } from "@/lib/errors";
import type { FieldValues } from "@/input/fields";
import { confirmationPageErrors, liquidErrors, type TemplateFields } from "./model";

/** A create's fields; an update's are the same, all optional. */
export type TemplateValues = FieldValues<typeof TemplateFields>;
export type TemplateChanges = FieldValues<typeof TemplateFields, true>;

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Templates of T ordered by label (case-insensitively, as people read lists), then id, with the total. */
export function listTemplates(deps: Deps, scope: Scope, limit: number, offset: number) {
  requireSomeChannel(scope);
  const where = inArray(templates.channel_id, [...scope.channelIds]);
  const rows = deps.db.select().from(templates).where(where).orderBy(sql`${templates.label} COLLATE NOCASE`, asc(templates.label), asc(templates.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(templates).where(where).get()!.n;
  return { rows, total };
}

/** A template of T. @throws 404 "Template not found" (missing or outside T). */
export function getTemplate(deps: Deps, scope: Scope, id: number): Template {
  const row = deps.db.select().from(templates).where(eq(templates.id, id)).get();
  if (!row) throw notFound("Template");
  assertInScope(scope, row.channel_id, "Template");
  return row;
}

/** Field checks that need the merged record: Liquid, confirmation page shape, default_confirmation purpose. */
function validate(values: TemplateChanges, merged: { template_purpose: string; default_confirmation: boolean }) {
  const errors: FieldErrors = { ...liquidErrors(values) };
  if (values.confirmation_page_settings) Object.assign(errors, confirmationPageErrors(values.confirmation_page_settings));
  if (merged.default_confirmation && merged.template_purpose !== "confirmation") {
    errors.default_confirmation = ["requires template_purpose confirmation"];
  }
  if (Object.keys(errors).length) throw validationError(errors);
}

function assertLabelFree(tx: Tx, channelId: number, label: string, exceptId?: number) {
  const cond = [eq(templates.channel_id, channelId), eq(templates.label, label)];
  if (exceptId !== undefined) cond.push(ne(templates.id, exceptId));
  if (tx.select({ id: templates.id }).from(templates).where(and(...cond)).get()) throw validationError({ label: ["has already been taken"] });
}

/** Only one default confirmation template per channel: setting it clears the others. */
function clearOtherDefaults(tx: Tx, channelId: number, keepId: number, now: number) {
  tx.update(templates)
    .set({ default_confirmation: false, updated_at: now })
    .where(and(eq(templates.channel_id, channelId), eq(templates.default_confirmation, true), ne(templates.id, keepId)))
    .run();
}

/** Creates a template in `channel`. @throws 422 on a taken label, Liquid syntax errors, bad page settings. */
export function createTemplate(deps: Deps, channel: Channel, values: TemplateValues): Template {
  validate(values, { template_purpose: values.template_purpose ?? "general", default_confirmation: values.default_confirmation ?? false });
  const now = deps.clock.now();
  return deps.db.transaction((tx) => {
    assertLabelFree(tx, channel.id, values.label);
    const row = tx
      .insert(templates)
      .values({
        ...values,
        channel_id: channel.id,
        confirmation_page_settings: values.confirmation_page_settings ?? {},
        created_at: now,
        updated_at: now,
      })
      .returning()
      .get();
    if (row.default_confirmation) clearOtherDefaults(tx, channel.id, row.id, now);
    return row;
  });
}

/** Applies present fields (PATCH semantics). @throws 422 as createTemplate. */
export function updateTemplate(deps: Deps, template: Template, values: TemplateChanges): Template {
  const { confirmation_page_settings: pages, ...rest } = values;
  const changes = { ...rest, ...(pages !== undefined ? { confirmation_page_settings: pages ?? {} } : {}) };
  validate(changes, {
    template_purpose: changes.template_purpose ?? template.template_purpose,
    default_confirmation: changes.default_confirmation ?? template.default_confirmation,
  });
  const now = deps.clock.now();
  return deps.db.transaction((tx) => {
    if (typeof changes.label === "string") assertLabelFree(tx, template.channel_id, changes.label, template.id);
    const row = tx
      .update(templates)
      .set({ ...changes, updated_at: now })
      .where(eq(templates.id, template.id))
      .returning()
      .get();
    if (row.default_confirmation) clearOtherDefaults(tx, row.channel_id, row.id, now);
    return row;
  });
}

/** Deletes a template. @throws 422 "Template is in use by: …" while referenced. */
export function deleteTemplate(deps: Deps, template: Template): void {
  deps.db.transaction((tx) => {
    const inUse = deps.references.inUseMessage(tx, "template", template.id, "Template");
    if (inUse) throw unprocessable(inUse);
    tx.delete(templates).where(eq(templates.id, template.id)).run();
  });
}
