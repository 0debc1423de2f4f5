/**
 * One transport-neutral error type. HTTP renders it in Broadcast's shapes (API.md §1.4); the SMTP
 * listener maps the same codes to SMTP replies. `cause` is logged, never serialised.
 */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "payment_required"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "payload_too_large"
  | "uri_too_long"
  | "unsupported_media_type"
  | "unprocessable"
  | "rate_limited"
  | "headers_too_large"
  | "internal"
  | "unavailable";

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

/**
 * A finer, machine-readable cause inside a code, for transports that answer differently by it
 * (SMTP: 535 "API token has expired" vs "Authentication credentials invalid"). Never inferred from
 * message text.
 */
export type ErrorReason = "token_expired";

/** Field errors keyed by request param dot-path → messages (Rails style). */
export type FieldErrors = Record<string, string[]>;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    /** The body's `error` string. */
    readonly publicMessage: string,
    /** Extra body fields (`message`, `errors`, `required_permission`, …). */
    readonly details: Record<string, unknown> = {},
    /** Extra response headers (`Allow`, `Retry-After`, …). */
    readonly headers: Record<string, string> = {},
    options: { reason?: ErrorReason; cause?: unknown } = {},
  ) {
    super(publicMessage, { cause: options.cause });
    this.reason = options.reason;
  }

  readonly reason: ErrorReason | undefined;

  get status(): number {
    return codeToStatus[this.code];
  }

  body(): Record<string, unknown> {
    return { error: this.publicMessage, ...this.details };
  }
}

const humanize = (field: string) => {
  const last = field.split(".").filter((p) => !/^\d+$/.test(p)).at(-1) ?? field;
  const words = last.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** 422 with Rails-style `error` ("Email is invalid, Name can't be blank") and the `errors` map. */
export function validationError(errors: FieldErrors): AppError {
  const sentence = Object.entries(errors)
    .flatMap(([field, messages]) => messages.map((m) => `${humanize(field)} ${m}`))
    .join(", ");
  return new AppError("unprocessable", sentence || "Validation failed", { errors });
}

export const notFound = (resource = "Not Found") =>
  new AppError("not_found", resource === "Not Found" ? resource : `${resource} not found`);
export const unprocessable = (message: string, details: Record<string, unknown> = {}) =>
  new AppError("unprocessable", message, details);
export const forbidden = (message: string, details: Record<string, unknown> = {}) =>
  new AppError("forbidden", "Forbidden", { message, ...details });
export const unauthorized = (message = "Invalid or missing API token", reason?: ErrorReason) =>
  new AppError("unauthorized", "Unauthorized", { message }, {}, { reason });
