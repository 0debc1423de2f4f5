/**
 * The one error type every layer throws for expected failures, neutral about transport: a closed
 * `code` (the kind of failure), an optional finer `reason`, the public message and details. Each
 * transport renders it from the code and reason, never from message text: HTTP as Broadcast-style
 * JSON with a status (http/errors.ts), SMTP as a reply code (smtp/replies.ts), the CLI as a line
 * and an exit code. `cause` is logged, never shown.
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

/**
 * A finer, machine-readable cause inside a code, for transports that answer differently by it
 * (SMTP: 535 "API token has expired" vs "Authentication credentials invalid").
 */
export type ErrorReason = "token_expired";

/** Field errors keyed by request param dot-path → messages (Rails style). */
export type FieldErrors = Record<string, string[]>;

export class AppError extends Error {
  readonly reason: ErrorReason | undefined;

  constructor(
    readonly code: ErrorCode,
    /** What the caller reads first (HTTP: the body's `error` string). */
    readonly publicMessage: string,
    /** Extra public fields (`message`, `errors`, `required_permission`, …). */
    readonly details: Record<string, unknown> = {},
    /** Response headers where the transport has them (`Allow`, `Retry-After`, …). */
    readonly headers: Record<string, string> = {},
    options: { reason?: ErrorReason; cause?: unknown } = {},
  ) {
    super(publicMessage, { cause: options.cause });
    this.reason = options.reason;
  }
}

/** A problem the operator must fix (bad data dir, corrupt DB, port in use): printed as one line, exit 1. */
export class StartupError extends Error {}

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
