import { Elysia, t } from "elysia";
import type { Deps } from "@/deps";
import type { WebhookEndpoint } from "@/db/schema";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { f, withWarnings } from "@/input/fields";
import { offsetEnvelope } from "@/input/pagination";
import { idParam } from "@/http/params";
import { MessageSchema, OffsetList, Strict } from "@/input/schemas";
import { EVENT_TYPES } from "@/features/events/schemas";
import { sendTest } from "./delivery";
import { DeliveryFilterFields, DeliverySchema, encodeDelivery, encodeEndpoint, WebhookEndpointSchema, WebhookFields } from "./model";
import { createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, updateEndpoint } from "./service";

const params = { id: idParam("Webhook endpoint") };
const body = { fields: WebhookFields, wrapper: "webhook_endpoint" } as const;
const TestFields = { event_type: f.enum(EVENT_TYPES) };
const TestResultSchema = Strict({ success: t.Boolean(), delivery_id: t.Integer(), response_status: t.Union([t.Integer(), t.Null()]), duration_ms: t.Integer(), error: t.Optional(t.String()) });

/** §11 /webhook_endpoints. */
export const webhookRoutes = (deps: Deps) => {
  const encode = (e: WebhookEndpoint, secret?: string) => encodeEndpoint(e, deps.auth.cache.channelById(e.channel_id)!, secret);
  const load = ({ scope, params }: { scope: Parameters<typeof getEndpoint>[1]; params: { id: number } }) => getEndpoint(deps, scope, params.id);
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/webhook_endpoints",
      ...route({ summary: "List webhook endpoints", permission: "webhook_endpoints_read", pagination: { style: "offset" }, response: { 200: OffsetList(WebhookEndpointSchema) } }, ({ scope, page }) => {
        const { rows, total } = listEndpoints(deps, scope, page.limit, page.offset);
        return offsetEnvelope(rows.map((e) => encode(e)), total, page);
      }),
    )
    .get(
      "/webhook_endpoints/:id",
      ...route({ summary: "Get a webhook endpoint", permission: "webhook_endpoints_read", params, load, response: { 200: WebhookEndpointSchema } }, ({ record }) => encode(record)),
    )
    .post(
      "/webhook_endpoints",
      ...route(
        { summary: "Create a webhook endpoint", permission: "webhook_endpoints_write", channel: "one", body: { ...body, ignored: ["secret"] }, response: { 201: WebhookEndpointSchema } },
        ({ channel, values, warnings, set }) => {
          const { row, secret } = createEndpoint(deps, channel, values);
          set.status = 201;
          return withWarnings(encode(row, secret), warnings);
        },
      ),
    )
    .patch(
      "/webhook_endpoints/:id",
      ...route(
        { summary: "Update a webhook endpoint", permission: "webhook_endpoints_write", params, load, body: { ...body, partial: true, immutable: ["url", "secret"] }, response: { 200: WebhookEndpointSchema } },
        ({ record, values, warnings }) => withWarnings(encode(updateEndpoint(deps, record, values)), warnings),
      ),
    )
    .delete(
      "/webhook_endpoints/:id",
      ...route({ summary: "Delete a webhook endpoint", permission: "webhook_endpoints_write", params, load, response: { 200: MessageSchema } }, ({ record }) => {
        deleteEndpoint(deps, record);
        return { message: "Webhook endpoint deleted successfully" };
      }),
    )
    .post(
      "/webhook_endpoints/:id/test",
      ...route(
        { summary: "Send one test delivery now", permission: "webhook_endpoints_write", params, load, body: { fields: TestFields }, response: { 200: TestResultSchema } },
        async ({ record, values }) => {
          const { delivery, result } = await sendTest(deps, record, values.event_type ?? "test.webhook");
          return { success: result.ok, delivery_id: delivery.id, response_status: result.status, duration_ms: result.durationMs, ...(result.ok ? {} : { error: result.error ?? `HTTP ${result.status}` }) };
        },
      ),
    )
    .get(
      "/webhook_endpoints/:id/deliveries",
      ...route(
        {
          summary: "List the deliveries of a webhook endpoint",
          permission: "webhook_endpoints_read",
          params,
          load,
          pagination: { style: "offset", limit: 25, max: 100 },
          query: { fields: DeliveryFilterFields },
          response: { 200: OffsetList(DeliverySchema) },
        },
        ({ record, query, page }) => {
          const { rows, total } = listDeliveries(deps, record, query.status, page.limit, page.offset);
          return offsetEnvelope(rows.map(encodeDelivery), total, page);
        },
      ),
    );
};
