import { Elysia } from "elysia";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { prime, skill, status, whoami, type RouteInfo } from "./service";

/** §2.3 discovery: any valid token, `general` bucket. `routes` lists the app's API routes (lazily). */
export const discoveryRoutes = (deps: Deps, routes: () => readonly RouteInfo[]) =>
  new Elysia()
    .use(authPlugin(deps))
    .get("/whoami", ({ scope }) => whoami(deps, scope), { permission: { permission: null } })
    .get("/status", ({ scope }) => status(deps, scope), { permission: { permission: null } })
    .get("/prime", ({ scope }) => prime(deps, scope, routes()), { permission: { permission: null } })
    .get(
      "/skill",
      ({ scope }) => new Response(skill(deps, scope, routes()), { headers: { "content-type": "text/plain; charset=utf-8" } }),
      { permission: { permission: null } },
    );
