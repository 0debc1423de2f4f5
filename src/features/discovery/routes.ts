import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { rawResponse, route } from "@/http/contract";
import { PrimeSchema, StatusSchema, WhoamiSchema } from "./model";
import { prime, skill, status, whoami, type RouteInfo } from "./service";

/** §2.3 discovery: any valid token, `general` bucket. `routes` lists the app's API routes (lazily). */
export const discoveryRoutes = (deps: Deps, routes: () => readonly RouteInfo[]) =>
  new Elysia()
    .use(authPlugin(deps))
    .get("/whoami", ...route({ summary: "The token, its channel and rate limits", anyToken: true, response: { 200: WhoamiSchema } }, ({ scope }) => whoami(deps, scope)))
    .get(
      "/status",
      ...route({ summary: "Whether the target channel can send: readiness, audience, quota", anyToken: true, response: { 200: StatusSchema } }, ({ scope }) =>
        status(deps, scope),
      ),
    )
    .get(
      "/prime",
      ...route({ summary: "Everything an agent needs to start: token, channels, reachable routes", anyToken: true, response: { 200: PrimeSchema } }, ({ scope }) =>
        prime(deps, scope, routes()),
      ),
    )
    .get(
      "/skill",
      ...route(
        { summary: "A skill file (Markdown) for agents, listing the routes this token can reach", anyToken: true, response: { 200: rawResponse("text/plain; charset=utf-8") } },
        ({ scope }) => new Response(skill(deps, scope, routes()), { headers: { "content-type": "text/plain; charset=utf-8" } }),
      ),
    );
