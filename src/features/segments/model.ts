/**
 * Segment fields and JSON (API.md §7).
 */
import type { Channel, Segment, SegmentGroup, SegmentRule } from "@/db/schema";
import type { Input } from "@/http/compat";
import { AppError, validationError, type FieldErrors } from "@/lib/errors";
import { f, readFields, type FieldSpec, type Warning } from "@/http/fields";
import type { SegmentInput } from "./service";
import { readGroups, type GroupDef } from "./rules";
import { toIso } from "@/lib/time";

/** Groups arrive under either name; `readGroups` validates their content on exact dot-paths. */
const anything: FieldSpec = f.custom((v) => ({ value: v }), { nullable: true });

export const SegmentFields: Record<string, FieldSpec> = {
  name: f.string({ required: true, max: 255 }),
  description: f.string({ max: 1000, nullable: true }),
  segment_groups_attributes: anything,
  segment_groups: anything,
};

export type GroupWithRules = SegmentGroup & { rules: SegmentRule[] };

const encodeRule = (r: SegmentRule) => ({
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
export function encodeSegmentSummary(s: Segment, channel: Pick<Channel, "slug">) {
  return { id: s.id, channel: channel.slug, name: s.name, description: s.description, created_at: toIso(s.created_at), updated_at: toIso(s.updated_at) };
}

/** The full §7 segment object. */
export function encodeSegment(s: Segment, channel: Pick<Channel, "slug">, groups: GroupWithRules[], subscribersCount: number) {
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

/**
 * Reads segment fields plus groups (`segment_groups_attributes` or `segment_groups`, top-level or
 * wrapped under `segment`). @throws one 422 with field and rule errors on their dot-paths.
 */
export function readSegmentInput(input: Input, partial: boolean): { input: SegmentInput; warnings: Warning[] } {
  const wrapped = isObject(input.segment) ? input.segment : {};
  const source = { ...input, ...wrapped };
  const groupsKey = ["segment_groups_attributes", "segment_groups"].find((k) => source[k] !== undefined);
  let values: Record<string, unknown> = {};
  let warnings: Warning[] = [];
  const errors: FieldErrors = {};
  try {
    ({ values, warnings } = readFields(SegmentFields, input, { wrapper: "segment", partial }));
  } catch (err) {
    if (!(err instanceof AppError) || !isObject(err.details.errors)) throw err;
    Object.assign(errors, err.details.errors);
  }
  let groups: GroupDef[] | undefined;
  if (groupsKey) {
    const raw = source[groupsKey];
    groups = (raw === null ? [] : readGroups(raw, groupsKey, errors, warnings)) ?? undefined;
  }
  if (Object.keys(errors).length) throw validationError(errors);
  const { segment_groups_attributes: _a, segment_groups: _b, ...fields } = values;
  return { input: { values: fields as SegmentInput["values"], groups }, warnings };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
