/**
 * The auth plugin: every route declares its contract beside itself (contract.ts) and the
 * `permission` macro receives it. This one hook resolves principal → bucket charge → permission →
 * body → channel set T, in the order of docs/api-reference.md §2.1 (public routes: query and body only). The
 * contract is also published in the route's `detail` (read by the route-matrix test, /prime and the
 * OpenAPI document).
 */
import { Elysia } from "elysia";
import type { Principal } from "@/auth/principal";
import { resolveScope, type Scope } from "@/auth/scope";
import type { Deps } from "@/deps";
import { CsvBody } from "@/input/values";
import { mergeInput, readPendingBody, readQuery } from "./compat";
import type { AnyContract, Replay } from "./contract";
import { AppError, forbidden, unauthorized } from "@/lib/errors";
import { contractDetail, requiredPermissions } from "./openapi-operation";
import { requestMeta } from "./request";

export type { Replay };

const BEARER = /^bearer\s+(.+)$/i;

/** The token in `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const m = BEARER.exec(header);
  return m ? m[1].trim() : null;
}

export function authPlugin(deps: Deps) {
  const { auth } = deps;
  const apiKeyRefused = (ip: string) =>
    auth.failed(ip, deps.clock.now(), unauthorized("Pass the API token in the Authorization header (Bearer); api_key is not supported"), "api_key_param");
  return new Elysia({ name: "auth" })
    .macro({
      permission: (access: AnyContract) => {
        const required = requiredPermissions(access);
        /** The 403 this rule gives `principal`, or null when it may proceed. */
        const refusal = (principal: Principal): AppError | null => {
          const missing = required.find((p) => !principal.permissions.has(p));
          if (missing) {
            return forbidden("Insufficient permissions for this action", {
              required_permission: missing,
              ...(required.length > 1 ? { required_permissions: required } : {}),
            });
          }
          return access.scopeAll && principal.scope !== "all" ? forbidden("This action requires a token with scope all") : null;
        };
        return {
          detail: contractDetail(access),
          resolve: async ({ request, body, set }: { request: Request; body: unknown; set: { headers: Record<string, string | number> } }) => {
            const meta = requestMeta(request);
            const { query, refused } = readQuery(request.url);
            if (access.public) {
              if (refused) throw refused;
              const parsed = await readPendingBody(body);
              return { principal: null, scope: null, input: mergeInput(query, parsed), replay: null, body: parsed };
            }
            let principal = meta.principal;
            let replay: Replay | null = null;
            if (!principal || principal.kind !== "admin") {
              if ("api_key" in query) throw apiKeyRefused(meta.ip);
              principal = auth.authenticate(bearerToken(request.headers.get("authorization")), meta);
              meta.principal = principal;
              if (principal.viaPreviousValue) set.headers["mailroom-token-rotated"] = new Date(principal.token!.row.previous_expires_at!).toISOString();
              // The body is parsed for the lookup only when the permission check will pass.
              if (access.replay && !refused && refusal(principal) === null) {
                const parsed = await Promise.resolve(readPendingBody(body)).catch(() => null);
                if (parsed) replay = access.replay(request, principal, parsed);
              }
              const charge = auth.charge(principal, replay ? "general" : (access.bucket ?? "general"));
              if (charge) auth.rateLimitHeaders(principal, charge, set.headers);
            }
            const refusedAccess = refusal(principal);
            if (refusedAccess) throw refusedAccess;
            // Past the permission check: the query's and then the body's refusal (400/413/415) come first.
            if (refused) throw refused;
            const parsed = await readPendingBody(body);
            if (principal.kind !== "admin" && !(parsed instanceof CsvBody) && "api_key" in parsed) throw apiKeyRefused(meta.ip);
            const input = mergeInput(query, parsed);
            const scope: Scope = resolveScope(principal, input, auth.cache, access.channelWrapper);
            // `body` becomes the parsed body for handlers that read it (a CSV import).
            return { principal, scope, input, replay, body: parsed };
          },
        };
      },
    })
    .as("global");
}

export { AppError };
