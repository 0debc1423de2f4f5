/** The audit row JSON (docs/api-reference.md §2.6) and the list's filters. */
import { t, type Static } from "elysia";
import { f } from "@/input/fields";
import { Int, Nullable, Pair, Strict, Time } from "@/input/schemas";

export const AUDIT_ACTOR_TYPES = ["token", "admin", "cli", "system"] as const;

export const AuditFilterFields = {
  action: f.string({ max: 100 }),
  actor_type: f.enum(AUDIT_ACTOR_TYPES),
  target_type: f.string({ max: 100 }),
  target_id: f.integer({ min: 0 }),
  created_after: f.timeFilter(),
  created_before: f.timeFilter(),
};

const Party = <T extends ReturnType<typeof t.String> | ReturnType<typeof t.Union>>(type: T) =>
  Strict({ type, id: Nullable(Int()), label: Nullable(t.String()) });

export const AuditRowSchema = Strict({
  id: Int(),
  created_at: Time,
  actor: Party(t.Union(AUDIT_ACTOR_TYPES.map((a) => t.Literal(a)))),
  action: t.String(),
  target: Party(t.String()),
  channel: Nullable(t.String()),
  ip: Nullable(t.String()),
  user_agent: Nullable(t.String()),
  changes: t.Record(t.String(), Pair(t.Unknown(), t.Unknown(), "[before, after]")),
});
export type AuditRowJson = Static<typeof AuditRowSchema>;
