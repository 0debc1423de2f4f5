import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { quotaHeaders } from "@/features/channels/quota";
import { DoubleOptInOptions, doubleOptInOf } from "@/features/subscribers/fields";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { offsetEnvelope } from "@/input/pagination";
import { idParam } from "@/http/params";
import { OffsetList } from "@/input/schemas";
import type { Message } from "@/db/schema";
import { idempotencyClaim, idempotencyReplay, releaseIdempotency } from "./idempotency";
import { encodeTransactional, SentTransactionalSchema, TransactionalFields, TransactionalFilterFields, TransactionalSchema } from "./model";
import { getTransactional, listTransactionals, sendTransactional } from "./service";

/** §4 /transactionals. Sends use the `send` bucket, quota headers and Idempotency-Key (§1.9). */
export const transactionalRoutes = (deps: Deps) => {
  const encode = (row: Message) => encodeTransactional(row, deps.auth.cache.slugOf(row.channel_id) ?? "", deps.config.publicUrl);
  return (
    new Elysia()
      .use(authPlugin(deps))
      // The key stays "in flight" until the response is out, whatever its status.
      .onAfterResponse(({ request }) => releaseIdempotency(request))
      .post(
        "/transactionals",
        ...route(
          {
            summary: "Send a transactional email",
            permission: "transactionals_write",
            bucket: "send",
            replay: idempotencyReplay(deps),
            channel: "one",
            body: { fields: TransactionalFields, wrapper: "transactional", options: DoubleOptInOptions },
            response: { 201: SentTransactionalSchema },
          },
          async ({ channel, values, options, warnings, request, set }) => {
            const result = await sendTransactional(deps, channel, values, doubleOptInOf(options), warnings, idempotencyClaim(request));
            set.status = 201;
            Object.assign(set.headers, quotaHeaders(result.quota));
            return result.body;
          },
        ),
      )
      .get(
        "/transactionals/:id",
        ...route(
          { summary: "Get a transactional and its delivery status", permission: "transactionals_read", params: { id: idParam("Transactional") }, response: { 200: TransactionalSchema } },
          ({ scope, params }) => encode(getTransactional(deps, scope, params.id)),
        ),
      )
      .get(
        "/transactionals",
        ...route(
          {
            summary: "List transactionals, newest first",
            permission: "transactionals_read",
            channel: "some",
            pagination: { style: "offset" },
            query: { fields: TransactionalFilterFields },
            response: { 200: OffsetList(TransactionalSchema) },
          },
          ({ scope, query, page }) => {
            const { rows, total } = listTransactionals(deps, scope, query, page.limit, page.offset);
            return offsetEnvelope(rows.map(encode), total, page);
          },
        ),
      )
  );
};
