/**
 * Who references what, for the "… is in use by" check before a delete. The owning feature asks the
 * registry; the modules that hold references register a finder at the composition root (boot.ts),
 * so no feature edits another feature's list or reads its tables.
 */
export type ReferencedKind = "template" | "segment";

/** Lists the references to record `id` as "<kind> <id>", e.g. "transactional 12". */
export type ReferenceFinder<Db> = (db: Db, id: number) => string[];

/** Usages named in a message; the rest are counted. */
const NAMED_MAX = 20;

export class References<Db> {
  private readonly finders = new Map<ReferencedKind, ReferenceFinder<Db>[]>();

  register(kind: ReferencedKind, find: ReferenceFinder<Db>): this {
    this.finders.set(kind, [...(this.finders.get(kind) ?? []), find]);
    return this;
  }

  /** Everything that still references `kind` `id`, finders in registration order. */
  usages(db: Db, kind: ReferencedKind, id: number): string[] {
    return (this.finders.get(kind) ?? []).flatMap((find) => find(db, id));
  }

  /** "Template is in use by: transactional 4, …" (20 named, then "and N more"), or null when unused. */
  inUseMessage(db: Db, kind: ReferencedKind, id: number, resource: string): string | null {
    const usages = this.usages(db, kind, id);
    if (usages.length === 0) return null;
    const more = usages.length > NAMED_MAX ? ` and ${usages.length - NAMED_MAX} more` : "";
    return `${resource} is in use by: ${usages.slice(0, NAMED_MAX).join(", ")}${more}`;
  }
}
