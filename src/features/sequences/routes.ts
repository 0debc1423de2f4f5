import { Elysia, t } from "elysia";
import type { Scope } from "@/auth/scope";
import type { Sequence } from "@/db/schema";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { idParam } from "@/http/params";
import { f, withWarnings } from "@/input/fields";
import { offsetEnvelope } from "@/input/pagination";
import { MessageSchema, OffsetList, Strict } from "@/input/schemas";
import { addSubscriber, listMembers, MemberFields, removeSubscriber, RemoveFields } from "./members";
import { encodeEnrollment, encodeSequence, EnrollmentPageSchema, EnrollmentSchema, pagyPagination, SequenceFields, SequenceSchema } from "./model";
import { createSequence, deleteSequence, getSequence, listSequences, openCounts, updateSequence } from "./service";
import { encodeStep, StepFields, StepSchema } from "./steps";
import { deleteStep, getStep, insertStep, moveStep, stepsInOrder, updateStep } from "./tree";

const params = { id: idParam("Sequence") };
const stepParams = { id: idParam("Sequence"), step_id: idParam("Step") };
const body = { fields: SequenceFields, wrapper: "sequence" } as const;
const stepBody = { fields: StepFields, wrapper: "step", wrapperAlias: "sequence_step" } as const;
const StepList = Strict({ data: t.Array(StepSchema) });
const SequenceWithSteps = t.Composite([SequenceSchema, t.Object({ steps: t.Optional(t.Array(StepSchema)) })], { additionalProperties: false });
const MoveFields = { under_id: f.integer({ required: true, min: 1 }), branch: f.enum(["yes", "no"] as const, { nullable: true }) };

/** §6 /sequences: CRUD, the step tree and enrollments. */
export const sequenceRoutes = (deps: Deps) => {
  const slug = (s: Sequence) => deps.auth.cache.slugOf(s.channel_id) ?? "";
  const encode = (s: Sequence) => encodeSequence(s, slug(s), openCounts(deps.db, [s.id]).get(s.id) ?? 0);
  const load = ({ scope, params }: { scope: Scope; params: { id: number } }) => getSequence(deps, scope, params.id);
  const loadStep = ({ scope, params }: { scope: Scope; params: { id: number; step_id: number } }) => {
    const sequence = getSequence(deps, scope, params.id);
    return { sequence, step: getStep(deps.db, sequence, params.step_id) };
  };
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/sequences",
      ...route({ summary: "List sequences", permission: "sequences_read", channel: "some", pagination: { style: "offset" }, response: { 200: OffsetList(SequenceSchema) } }, ({ scope, page }) => {
        const { rows, total } = listSequences(deps, scope, page.limit, page.offset);
        const counts = openCounts(deps.db, rows.map((s) => s.id));
        return offsetEnvelope(rows.map((s) => encodeSequence(s, slug(s), counts.get(s.id) ?? 0)), total, page);
      }),
    )
    .get(
      "/sequences/:id",
      ...route(
        { summary: "Get a sequence (include_steps=true adds its steps in pre-order)", permission: "sequences_read", params, load, query: { fields: { include_steps: f.boolean() } }, response: { 200: SequenceWithSteps } },
        ({ record, query }) => (query.include_steps ? { ...encode(record), steps: stepsInOrder(deps.db, record.id).map(encodeStep) } : encode(record)),
      ),
    )
    .post(
      "/sequences",
      ...route({ summary: "Create a sequence with its root entry_point step", permission: "sequences_write", channel: "one", body, response: { 201: SequenceSchema } }, ({ channel, values, warnings, set }) => {
        const row = createSequence(deps, channel, values);
        set.status = 201;
        return withWarnings(encode(row), warnings);
      }),
    )
    .patch(
      "/sequences/:id",
      ...route({ summary: "Update a sequence", permission: "sequences_write", params, load, body: { ...body, partial: true }, response: { 200: SequenceSchema } }, ({ record, values, warnings }) =>
        withWarnings(encode(updateSequence(deps, record, values)), warnings),
      ),
    )
    .delete(
      "/sequences/:id",
      ...route({ summary: "Delete a sequence, its steps and enrollments", permission: "sequences_write", params, load, response: { 200: MessageSchema } }, ({ record }) => {
        deleteSequence(deps, record);
        return { message: "Sequence deleted successfully" };
      }),
    )
    .post(
      "/sequences/:id/add_subscriber",
      ...route(
        {
          summary: "Enroll a subscriber (created with source sequence when unknown)",
          permission: ["sequences_write", "subscribers_write"],
          params,
          load,
          body: { fields: MemberFields, wrapper: "subscriber" },
          response: { 200: EnrollmentSchema, 201: EnrollmentSchema },
        },
        ({ record, values, warnings, set }) => {
          const { enrollment, subscriber, created } = addSubscriber(deps, record, values);
          set.status = created ? 201 : 200;
          return withWarnings(encodeEnrollment(enrollment, subscriber), warnings);
        },
      ),
    )
    .delete(
      "/sequences/:id/remove_subscriber",
      ...route(
        { summary: "Remove a subscriber from a sequence", permission: ["sequences_write", "subscribers_write"], params, load, body: { fields: RemoveFields, wrapper: "subscriber" }, response: { 200: MessageSchema } },
        ({ record, values }) => {
          removeSubscriber(deps, record, values.email);
          return { message: "Subscriber removed from sequence" };
        },
      ),
    )
    .get(
      "/sequences/:id/list_subscribers",
      ...route(
        { summary: "Enrollments of a sequence (pagy pagination)", permission: ["sequences_read", "subscribers_read"], params, load, pagination: { style: "page", perPage: 25 }, response: { 200: EnrollmentPageSchema } },
        ({ record, page }) => {
          const { rows, total } = listMembers(deps, record, page);
          const out = { subscriber_sequences: rows.map((r) => encodeEnrollment(r.enrollment, r.subscriber)), pagination: pagyPagination(total, page.page, page.perPage) };
          return withWarnings(out, page.warnings);
        },
      ),
    )
    .get(
      "/sequences/:id/steps",
      ...route({ summary: "Steps of a sequence in pre-order", permission: "sequences_read", params, load, response: { 200: StepList } }, ({ record }) => ({
        data: stepsInOrder(deps.db, record.id).map(encodeStep),
      })),
    )
    .get(
      "/sequences/:id/steps/:step_id",
      ...route({ summary: "Get a step", permission: "sequences_read", params: stepParams, load: loadStep, response: { 200: StepSchema } }, ({ record }) => encodeStep(record.step)),
    )
    .post(
      "/sequences/:id/steps",
      ...route({ summary: "Add a step (into an occupied slot: splices)", permission: "sequences_write", params, load, body: stepBody, response: { 201: StepSchema } }, ({ record, values, warnings, set }) => {
        const step = insertStep(deps, record, values, warnings);
        set.status = 201;
        return withWarnings(encodeStep(step), warnings);
      }),
    )
    .patch(
      "/sequences/:id/steps/:step_id",
      ...route(
        {
          summary: "Update a step (action is immutable; move changes its place)",
          permission: "sequences_write",
          params: stepParams,
          load: loadStep,
          body: { ...stepBody, partial: true, immutable: ["action"], ignored: ["parent_id", "branch"] },
          response: { 200: StepSchema },
        },
        ({ record, values, warnings }) => withWarnings(encodeStep(updateStep(deps, record.sequence, record.step, values, warnings)), warnings),
      ),
    )
    .post(
      "/sequences/:id/steps/:step_id/move",
      ...route(
        { summary: "Move a step and its subtree under another step", permission: "sequences_write", params: stepParams, load: loadStep, body: { fields: MoveFields, wrapper: "step" }, response: { 200: StepSchema } },
        ({ record, values, warnings }) => withWarnings(encodeStep(moveStep(deps, record.sequence, record.step, values.under_id, values.branch)), warnings),
      ),
    )
    .delete(
      "/sequences/:id/steps/:step_id",
      ...route(
        { summary: "Delete a step (cascade: with its subtree)", permission: "sequences_write", params: stepParams, load: loadStep, body: { fields: { cascade: f.boolean() } }, response: { 200: MessageSchema } },
        ({ record, values }) => {
          deleteStep(deps, record.sequence, record.step, values.cascade ?? false);
          return { message: "Step deleted successfully" };
        },
      ),
    );
};
