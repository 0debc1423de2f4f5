/**
 * The OpenAPI 3.1 document of /api/v1, generated from the registered routes: each route's
 * `permission` macro published its operation (openapi-operation.ts) in `detail`; this file only
 * gathers them by path and adds the shared components (bearer scheme, error bodies, rate-limit and
 * quota headers), and one `webhooks` entry per event type from the events catalogue (the payload
 * an endpoint receives). Nothing here is written per route or per event.
 */
import { EVENT_TYPES, eventEnvelope } from "@/features/events/schemas";
import { plainSchema as plain } from "./openapi-operation";
import { ErrorSchema, WarningSchema, Warnings } from "@/input/schemas";

export interface RegisteredRoute {
  method: string;
  path: string;
  hooks?: { detail?: Record<string, unknown> };
}

const API_PREFIX = "/api/v1/";
/** Discovery routes share a tag; every other route is tagged with its resource (first path segment). */
const DISCOVERY = new Set(["whoami", "status", "prime", "skill", "openapi"]);

const json = (schema: unknown) => ({ "application/json": { schema } });
const errorBody = json({ $ref: "#/components/schemas/Error" });
const header = (description: string, type: "integer" | "string" = "integer") => ({ description, schema: { type } });

const RETRY_AFTER = { "Retry-After": header("Seconds to wait before retrying") };
const ERRORS: Record<string, [string, Record<string, unknown>?]> = {
  "400": ["Invalid JSON body, query string, CSV or Host header"],
  "401": ["Missing, malformed, unknown, revoked or expired token; `api_key` used"],
  "402": ["Monthly send quota exhausted"],
  "403": ["Missing permission (`required_permission`), IP, channel, scope `all`, escalation or plain HTTP"],
  "404": ["Unknown route, record missing or outside the target channels, unknown channel"],
  // Answered for a path that exists under other methods: no operation of its own, listed for its shape.
  "405": ["Method not allowed for this path", { Allow: header("The methods the path answers to", "string") }],
  "409": ["A request with this Idempotency-Key is still being processed"],
  "413": ["Body over the limit (2 MiB; 10 MiB on the bulk routes)"],
  "414": ["Query string over 8 KiB"],
  "415": ["A body that is not JSON"],
  "422": ["Validation failed (`errors` by request param dot-path) or a wrong state"],
  "429": ["Rate limit exceeded", RETRY_AFTER],
  "431": ["Headers over 16 KiB"],
  "500": ["Server error (details only in the server log; `request_id`)"],
  "503": ["Database locked by another process, or storage unavailable (disk full, read-only)", RETRY_AFTER],
};

const HEADERS = {
  "X-RateLimit-Limit": header("The charged bucket's limit per minute"),
  "X-RateLimit-Remaining": header("Requests left in the charged bucket"),
  "X-RateLimit-Reset": header("Unix seconds when the bucket is full again"),
  RateLimit: header('IETF form: "<bucket>";r=<remaining>;t=<seconds to full>', "string"),
  "RateLimit-Policy": header('IETF form: "general";q=<limit>;w=60, "send";q=<limit>;w=60', "string"),
  "X-Quota-Used": header("Messages created this UTC month by the channel"),
  "X-Quota-Cap": header("The channel's monthly_send_quota (absent when unlimited)"),
  "X-Quota-Remaining": header("Messages left this month (absent when unlimited)"),
  "X-Quota-Warning": header("1 once 80 % of the quota is used", "string"),
};

const PARAMETERS = {
  channel: { name: "channel", in: "query", description: "Target channel by slug (§1.6); also accepted in the body", schema: { type: "string" } },
  broadcast_channel_id: { name: "broadcast_channel_id", in: "query", description: "Target channel by id (§1.6); also accepted in the body", schema: { type: "integer" } },
  "Idempotency-Key": { name: "Idempotency-Key", in: "header", description: "Retries with the same key replay the first response for 24 h", schema: { type: "string", maxLength: 255 } },
};

const DESCRIPTION = `Mailroom's HTTP API, wire-compatible with Broadcast API v1. Generated from the route contracts of this instance.

Conventions (docs/api-reference.md §1): every route also answers with a \`.json\` suffix; \`PUT\` = \`PATCH\`; fields may be sent top-level or under the resource's wrapper key (the wrapped one wins, with a \`parameter_overridden\` warning); query strings use SDK style (\`k[]=a\`, \`k[sub]=v\`); booleans accept \`true\`/\`false\`/\`1\`/\`0\` and integers digit strings. A 2xx object body may carry \`warnings\`. Every error has a string \`error\`.`;

/** What every delivery carries (docs/api-reference.md §11.2); the body is the event envelope of §11.1. */
const WEBHOOK_HEADERS = [
  { name: "broadcast-webhook-id", in: "header", required: true, description: "The event id: the same on every retry (ignore duplicates)", schema: { type: "string" } },
  { name: "broadcast-webhook-timestamp", in: "header", required: true, description: "Unix seconds; also sent as X-Broadcast-Timestamp", schema: { type: "string" } },
  {
    name: "broadcast-webhook-signature",
    in: "header",
    required: true,
    description: 'v1,<base64 HMAC-SHA256(secret, "<timestamp>.<raw body>")>; also sent as X-Broadcast-Signature',
    schema: { type: "string" },
  },
];

/** One POST per event type, as a webhook endpoint subscribed to it receives it. */
const webhooks = () =>
  Object.fromEntries(
    EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          summary: `${type} delivered to a subscribed webhook endpoint`,
          tags: ["webhooks"],
          parameters: WEBHOOK_HEADERS,
          requestBody: { required: true, content: json(plain(eventEnvelope(type))) },
          responses: { "200": { description: "Any 2xx within 10 s acknowledges it; anything else is retried (a 410 disables the endpoint)" } },
        },
      },
    ]),
  );

const tagOf = (path: string) => {
  const first = path.slice(API_PREFIX.length).split("/")[0];
  return DISCOVERY.has(first) ? "discovery" : first;
};
const operationId = (method: string, path: string) =>
  `${method.toLowerCase()}_${path.slice(API_PREFIX.length).replace(/:([a-z_]+)/g, "by_$1").replace(/[^a-z0-9]+/gi, "_")}`;

/** The document for `routes` (an app's `routes`), served at `serverUrl`. */
export function openApiDocument(routes: readonly RegisteredRoute[], o: { version: string; serverUrl: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const detail = r.hooks?.detail;
    if (!r.path.startsWith(API_PREFIX) || !detail || !("x-access" in detail)) continue;
    const path = r.path.replace(/:([a-z_]+)/g, "{$1}");
    (paths[path] ??= {})[r.method.toLowerCase()] = { operationId: operationId(r.method, r.path), tags: [tagOf(r.path)], ...detail };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Mailroom API", version: o.version, description: DESCRIPTION },
    servers: [{ url: o.serverUrl }],
    security: [{ bearer: [] }],
    paths,
    webhooks: webhooks(),
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An access token `mr_…` (§2): Authorization: Bearer <token>" },
      },
      schemas: { Error: plain(ErrorSchema), Warning: plain(WarningSchema), Warnings: { ...plain(Warnings), items: { $ref: "#/components/schemas/Warning" } } },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([status, [description, headers]]) => [status, { description, ...(headers ? { headers } : {}), content: errorBody }]),
      ),
      headers: HEADERS,
      parameters: PARAMETERS,
    },
  };
}
