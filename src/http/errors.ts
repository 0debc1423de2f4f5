/**
 * How HTTP renders the transport-neutral AppError (lib/errors.ts): a status from the code and
 * Broadcast's JSON shapes (docs/api-reference.md §1.4) — `{"error": …}` plus the error's details.
 */
import type { AppError, ErrorCode } from "@/lib/errors";

export const codeToStatus: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  payment_required: 402,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  headers_too_large: 431,
  internal: 500,
  unavailable: 503,
};

/** The JSON body: `{"error": "Subscriber not found"}`, `{"error": "Forbidden", "message": …}`, 422 `errors`. */
export const errorBody = (e: AppError): Record<string, unknown> => ({ error: e.publicMessage, ...e.details });
