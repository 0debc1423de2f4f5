/**
 * The auth plugin: every route declares its access rule beside itself with the `permission` macro,
 * and this one hook resolves principal → bucket charge → permission → body → channel set T, in the
 * order of API.md §2.1. The rule is also published in the route's `detail` (read by the route-matrix
 * test, /prime and the OpenAPI document).
 */
import { Elysia } from "elysia";
import type { Permission } from "@/auth/permissions";
import type { Principal } from "@/auth/principal";
import { resolveScope, type Scope } from "@/auth/scope";
import type { BucketName } from "@/auth/authenticator";
import type { Deps } from "@/deps";
import { CsvBody, mergeInput, readPendingBody, readQuery, type Input } from "./compat";
import { AppError, forbidden, unauthorized } from "@/lib/errors";
import { requestMeta } from "./request";

/** A stored response replayed instead of running the handler (Idempotency-Key, §1.9). */
export interface Replay {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface AccessRule {
  /** Required permission(s); null = any valid token (discovery routes). */
  permission: Permission | readonly Permission[] | null;
  /** Send routes are charged to the `send` bucket (§1.7). */
  bucket?: BucketName;
  /** Routes that also need a token of scope `all`. */
  scopeAll?: boolean;
  /** An object-valued `channel` is the resource wrapper here (`/channels`), not a malformed selector. */
  channelWrapper?: boolean;
  /**
   * Looks up a replayable response before the bucket is charged (§2.1 check order); `body` = the
   * parsed body. Asked only for a principal the permission check will let through.
   */
  replay?: (request: Request, principal: Principal, body: Input | CsvBody) => Replay | null;
}

export type RouteRule = Permission | readonly Permission[] | AccessRule;

export const normalizeRule = (rule: RouteRule): AccessRule =>
  typeof rule === "string" || Array.isArray(rule) ? { permission: rule as Permission | Permission[] } : (rule as AccessRule);

export const rulePermissions = (rule: AccessRule): Permission[] =>
  rule.permission === null ? [] : typeof rule.permission === "string" ? [rule.permission] : [...rule.permission];

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
      permission: (rule: RouteRule) => {
        const access = normalizeRule(rule);
        const required = rulePermissions(access);
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
          detail: {
            "x-required-permission": required[0] ?? null,
            "x-required-permissions": required,
            "x-rate-bucket": access.bucket ?? "general",
            "x-scope-all": !!access.scopeAll,
          } as Record<string, unknown>,
          resolve: async ({ request, body, set }: { request: Request; body: unknown; set: { headers: Record<string, string | number> } }) => {
            const meta = requestMeta(request);
            const { query, refused } = readQuery(request.url);
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
