import { requireSomeChannel } from "@/auth/scope";
import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { quotaHeaders } from "@/features/channels/quota";
import { authPlugin } from "@/http/auth";
import { offsetEnvelope, offsetParams } from "@/http/pagination";
import { pathId } from "@/http/params";
import { idempotencyClaim, idempotencyReplay, releaseIdempotency } from "./idempotency";
import { encodeTransactional } from "./model";
import { getTransactional, listTransactionals, sendTransactional } from "./service";


/** §4 /transactionals. Sends use the `send` bucket, quota headers and Idempotency-Key (§1.9). */
export const transactionalRoutes = (deps: Deps) =>
  new Elysia()
    .use(authPlugin(deps))
    // The key stays "in flight" until the response is out, whatever its status.
    .onAfterResponse(({ request }) => releaseIdempotency(request))
    .post(
      "/transactionals",
      async ({ scope, input, request, replay, set }) => {
        if (replay) {
          set.status = replay.status;
          Object.assign(set.headers, replay.headers ?? {});
          return replay.body;
        }
        const result = await sendTransactional(deps, scope, input, idempotencyClaim(request));
        set.status = 201;
        Object.assign(set.headers, quotaHeaders(result.quota));
        return result.body;
      },
      { permission: { permission: "transactionals_write", bucket: "send", replay: idempotencyReplay(deps) } },
    )
    .get(
      "/transactionals/:id",
      ({ scope, params }) => {
        const row = getTransactional(deps, scope, pathId(params.id, "Transactional"));
        return encodeTransactional(row, (deps.auth.cache.slugOf(row.channel_id) ?? ""), deps.config.publicUrl);
      },
      { permission: "transactionals_read" },
    )
    .get(
      "/transactionals",
      ({ scope, input }) => {
        requireSomeChannel(scope);
        const page = offsetParams(input, { filters: ["status", "source", "recipient_email"] });
        const { rows, total } = listTransactionals(deps, scope, input, page.limit, page.offset);
        return offsetEnvelope(rows.map((r) => encodeTransactional(r, (deps.auth.cache.slugOf(r.channel_id) ?? ""), deps.config.publicUrl)), total, page);
      },
      { permission: "transactionals_read" },
    );
