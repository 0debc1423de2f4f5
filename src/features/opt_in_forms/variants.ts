/**
 * Form variants (docs/api-reference.md §10): up to 5 copies of a top-level form, each with a name and a weight
 * (1–100), edited like any form; the hosted page shows the form or one of its enabled variants by
 * weight (the form itself counts with weight 50) and keeps showing a visitor the same one.
 */
import { randomUUID } from "node:crypto";
import { and, asc, count, eq, inArray, isNotNull } from "drizzle-orm";
import { opt_in_forms, type OptInForm } from "@/db/schema";
import type { Deps } from "@/deps";
import { unprocessable } from "@/lib/errors";

export const MAX_VARIANTS = 5;
export const DEFAULT_WEIGHT = 50;

export const variantsOf = (deps: Deps, formId: number) =>
  deps.db.select().from(opt_in_forms).where(eq(opt_in_forms.parent_form_id, formId)).orderBy(asc(opt_in_forms.id)).all();

/** How many variants each of the given forms has. */
export function variantCounts(deps: Deps, ids: number[]): Map<number, number> {
  if (!ids.length) return new Map();
  const rows = deps.db
    .select({ id: opt_in_forms.parent_form_id, n: count() })
    .from(opt_in_forms)
    .where(and(isNotNull(opt_in_forms.parent_form_id), inArray(opt_in_forms.parent_form_id, ids)))
    .groupBy(opt_in_forms.parent_form_id)
    .all();
  return new Map(rows.map((r) => [r.id!, r.n]));
}

/**
 * A new variant of `form`: its settings and blocks, a new identifier, `name` ("Variant N") and
 * `weight` (50). @throws 422 for a variant's variant or past 5 variants.
 */
export function addVariant(deps: Deps, form: OptInForm, name: string | undefined, weight: number | undefined): OptInForm {
  if (form.parent_form_id !== null) throw unprocessable("A variant cannot have variants; add it to the top-level form");
  return deps.db.transaction((tx) => {
    const existing = tx.select({ n: count() }).from(opt_in_forms).where(eq(opt_in_forms.parent_form_id, form.id)).get()!.n;
    if (existing >= MAX_VARIANTS) throw unprocessable(`A form has at most ${MAX_VARIANTS} variants`);
    const { id, identifier: _identifier, created_at: _created, updated_at: _updated, ...copy } = form;
    const now = deps.clock.now();
    return tx
      .insert(opt_in_forms)
      .values({ ...copy, identifier: randomUUID(), parent_form_id: id, variant_name: name ?? `Variant ${existing + 1}`, variant_weight: weight ?? DEFAULT_WEIGHT, created_at: now, updated_at: now })
      .returning()
      .get();
  });
}

/** A form's share of the draw: the form itself 50, a variant its `variant_weight`. */
export const variantWeight = (f: OptInForm) => (f.parent_form_id === null ? DEFAULT_WEIGHT : (f.variant_weight ?? DEFAULT_WEIGHT));

/**
 * Which form of the group a visitor sees: the one named by their cookie if it is still shown,
 * else one drawn by weight. `random` is in [0, 1).
 */
export function pickVariant(form: OptInForm, variants: OptInForm[], sticky: number | null, random: number): OptInForm {
  const shown = [form, ...variants.filter((v) => v.enabled)];
  const kept = shown.find((f) => f.id === sticky);
  if (kept) return kept;
  let left = random * shown.reduce((n, f) => n + variantWeight(f), 0);
  for (const f of shown) {
    left -= variantWeight(f);
    if (left < 0) return f;
  }
  return form;
}
