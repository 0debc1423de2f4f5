import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { route } from "@/http/contract";
import { withWarnings } from "@/input/fields";
import { reputation, ReputationQueryFields, ReputationSchema } from "./service";

/** §14 GET /reputation: one row per channel of T × sending domain. */
export const reputationRoutes = (deps: Deps) =>
  new Elysia().use(authPlugin(deps)).get(
    "/reputation",
    ...route(
      { summary: "Sending reputation per channel and domain", permission: "reputation_read", channel: "some", query: { fields: ReputationQueryFields }, response: { 200: ReputationSchema } },
      ({ scope, query, warnings }) => withWarnings(reputation(deps, scope.channelIds, query.days ?? 30, query.domain, deps.clock.now()), warnings),
    ),
  );
