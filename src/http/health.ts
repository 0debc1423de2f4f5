/**
 * `GET /healthz` (API.md §19), answered by the HTTP edge before routing: probes hit it often and
 * need no auth, so it skips the app's hooks. The database is queried at most once per second.
 */
import type { Deps } from "@/deps";
import { VERSION } from "@/version";
import { AppError } from "./errors";

const OK_BODY = JSON.stringify({ status: "ok", version: VERSION, db: "ok" });
const ERROR_BODY = JSON.stringify({ status: "error", version: VERSION, db: "error" });

/** Returns the responder for /healthz: 200 when SQLite answers, else 503; 405 for other methods. */
export function createHealthCheck(deps: Deps, commonHeaders: Record<string, string>) {
  const dbCheck = deps.database.raw.prepare("SELECT 1");
  let checkedAt = -Infinity;
  let healthy = false;
  const databaseHealthy = () => {
    const now = deps.clock.now();
    if (now - checkedAt >= 1000) {
      checkedAt = now;
      try {
        dbCheck.get();
        healthy = true;
      } catch {
        healthy = false;
      }
    }
    return healthy;
  };
  return (method: string, requestId: string): Response => {
    if (method !== "GET" && method !== "HEAD") throw new AppError("method_not_allowed", "Method Not Allowed", {}, { allow: "GET, HEAD" });
    const ok = databaseHealthy();
    return new Response(method === "HEAD" ? null : ok ? OK_BODY : ERROR_BODY, {
      status: ok ? 200 : 503,
      headers: { "content-type": "application/json; charset=utf-8", ...commonHeaders, "x-request-id": requestId },
    });
  };
}
