/** Suppression fields and JSON (docs/api-reference.md §12). */
import { t, type Static } from "elysia";
import { emailField } from "@/features/subscribers/fields";
import { f, result } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { MAX_BULK_EMAILS, REASONS } from "./service";

const reasons = () => t.Union(REASONS.map((r) => t.Literal(r)));

export const EmailFields = { email: emailField() };
export const AddFields = { ...EmailFields, reason: f.enum(REASONS, { description: "manual (default), hard_bounce or complaint" }) };
export const ListFilterFields = {
  email: f.string({ trim: false, description: "Part of the address" }),
  reason: f.enum(REASONS),
};
/** Bulk bodies: the addresses as sent (invalid ones are counted, not refused). */
export const BulkFields = {
  emails: f.custom(
    (v) =>
      !Array.isArray(v)
        ? result.err("must be an array")
        : v.length > MAX_BULK_EMAILS
          ? result.err(`is too long (maximum is ${MAX_BULK_EMAILS} addresses per request)`)
          : result.ok(v as unknown[]),
    { required: true, schema: { type: "array", maxItems: MAX_BULK_EMAILS, items: { type: "string" } } },
  ),
};

/** The §12 object; global rows have `channel: null`. */
export const SuppressionSchema = Strict({
  id: Int(),
  channel: Nullable(t.String()),
  email: t.String(),
  reason: reasons(),
  source: t.String(),
  created_at: Time,
});
export type SuppressionJson = Static<typeof SuppressionSchema>;

export const CheckSchema = Strict({ email: t.String(), suppressed: t.Boolean(), scope: Nullable(t.String()), reason: Nullable(reasons()) });
export const BulkAddSchema = Strict({ added: Int(), already_suppressed: Int(), invalid: Int(), invalid_emails: t.Array(t.Unknown()) });
export const BulkRemoveSchema = Strict({ removed: Int(), not_found: Int() });
