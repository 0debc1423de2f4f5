/**
 * Segment fields and JSON (docs/api-reference.md §7).
 */
import { t, type Static } from "elysia";
import type { Channel, Segment, SegmentGroup, SegmentRule } from "@/db/schema";
import { f, result, type FieldValues, type JsonSchema } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import type { SegmentInput } from "./service";
import { MAX_GROUPS, MAX_RULES, readGroups } from "./rules";
import { toIso } from "@/lib/time";

const RULE_SCHEMA: JsonSchema = {
  type: "object",
  required: ["field", "operator"],
  properties: {
    field: { type: "string", description: "A subscriber field or custom_data.<key>" },
    operator: { type: "string" },
    value: {},
    secondary_value: {},
    is_negative: { type: "boolean" },
    case_sensitive: { type: "boolean" },
  },
};
const GROUPS_SCHEMA: JsonSchema = {
  type: "array",
  maxItems: MAX_GROUPS,
  items: {
    type: "object",
    properties: {
      match_type: { type: "string", enum: ["all", "any"] },
      segment_rules_attributes: { type: "array", maxItems: MAX_RULES, items: RULE_SCHEMA },
      segment_rules: { type: "array", maxItems: MAX_RULES, items: RULE_SCHEMA, description: "Alias of segment_rules_attributes" },
    },
  },
};

/** Groups (replacing every group; `null` = none), their rules checked on exact dot-paths. */
const groups = (description: string) =>
  f.custom((v, at) => result.ok(readGroups(v, at.param, at.errors, at.warnings) ?? []), { nullable: true, schema: { ...GROUPS_SCHEMA, description } });

export const SegmentFields = {
  name: f.string({ required: true, max: 255 }),
  description: f.string({ max: 1000, nullable: true }),
  segment_groups_attributes: groups("The segment's groups of rules"),
  segment_groups: groups("Alias of segment_groups_attributes"),
};

export type GroupWithRules = SegmentGroup & { rules: SegmentRule[] };

const RuleSchema = Strict({
  id: Int(),
  field: t.String(),
  operator: t.String(),
  value: Nullable(t.String()),
  secondary_value: Nullable(t.String()),
  rule_type: t.String(),
  value_type: Nullable(t.String()),
  position: Int(),
  is_negative: t.Boolean(),
  case_sensitive: t.Boolean(),
});

/** A list item: no groups, no count. */
export const SegmentSummarySchema = Strict({
  id: Int(),
  channel: t.String(),
  name: t.String(),
  description: Nullable(t.String()),
  created_at: Time,
  updated_at: Time,
});

/** The full §7 segment object. */
export const SegmentSchema = Strict({
  ...SegmentSummarySchema.properties,
  subscribers_count: Int(),
  segment_groups: t.Array(Strict({ id: Int(), match_type: t.Union([t.Literal("all"), t.Literal("any")]), position: Int(), segment_rules: t.Array(RuleSchema) })),
});

const encodeRule = (r: SegmentRule): Static<typeof RuleSchema> => ({
  id: r.id,
  field: r.field,
  operator: r.operator,
  value: r.value,
  secondary_value: r.secondary_value,
  rule_type: r.rule_type,
  value_type: r.value_type,
  position: r.position,
  is_negative: r.is_negative,
  case_sensitive: r.case_sensitive,
});

/** List item: no groups, no count. */
export function encodeSegmentSummary(s: Segment, channel: Pick<Channel, "slug">): Static<typeof SegmentSummarySchema> {
  return { id: s.id, channel: channel.slug, name: s.name, description: s.description, created_at: toIso(s.created_at), updated_at: toIso(s.updated_at) };
}

/** The full §7 segment object. */
export function encodeSegment(s: Segment, channel: Pick<Channel, "slug">, groups: GroupWithRules[], subscribersCount: number): Static<typeof SegmentSchema> {
  return {
    id: s.id,
    channel: channel.slug,
    name: s.name,
    description: s.description,
    subscribers_count: subscribersCount,
    segment_groups: groups.map((g) => ({ id: g.id, match_type: g.match_type, position: g.position, segment_rules: g.rules.map(encodeRule) })),
    created_at: toIso(s.created_at),
    updated_at: toIso(s.updated_at),
  };
}

/** The service's input: fields, and the groups under either name (`segment_groups_attributes` first). */
export function segmentInput(values: FieldValues<typeof SegmentFields, true>): SegmentInput {
  const { segment_groups_attributes, segment_groups, ...fields } = values;
  const groups = segment_groups_attributes !== undefined ? segment_groups_attributes : segment_groups;
  return { values: fields, groups: groups === undefined ? undefined : (groups ?? []) };
}
