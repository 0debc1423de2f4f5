/** The JSON of the discovery routes (docs/api-reference.md §2.3). */
import { t } from "elysia";
import { PERMISSIONS } from "@/auth/permissions";
import { PURPOSES } from "@/features/email_servers/model";
import { Int, Nullable, Strict, Time } from "@/input/schemas";

const Bucket = Strict({ limit: Int(), remaining: Int(), reset: Int({ description: "Unix seconds" }), window_seconds: Int() });
const RateLimits = Strict({ general: t.Optional(Bucket), send: t.Optional(Bucket) }, "Absent buckets are unlimited");
const TokenType = t.Union([t.Literal("admin_cross_channel"), t.Literal("channel_scoped")]);
const TokenMeta = Strict({
  id: Int(),
  label: t.String(),
  name: t.String(),
  type: TokenType,
  redacted_value: Nullable(t.String()),
  created_at: Time,
  last_used_at: Time,
  expires_at: Time,
  permissions: Strict(Object.fromEntries(PERMISSIONS.map((p) => [p, t.Boolean()]))),
  scope: t.Union([t.Literal("channels"), t.Literal("all")]),
  channels: t.Array(t.String()),
  allowed_ips: t.Array(t.String()),
});
const ChannelBrief = Nullable(Strict({ id: Int(), name: t.String(), slug: t.String() }));
const byPurpose = <T extends Parameters<typeof t.Array>[0]>(value: T) => Strict(Object.fromEntries(PURPOSES.map((p) => [p, value])));

export const WhoamiSchema = Strict({ type: TokenType, token_type: TokenType, token: TokenMeta, channel: ChannelBrief, rate_limits: RateLimits });

/** Mailroom extension: bounces that arrive later (docs/bounces.md). */
const BouncesSchema = Strict(
  {
    verp: t.Boolean({ description: "MAILROOM_BOUNCE_DOMAIN is set: each message's envelope sender is a signed return path there" }),
    domain: Nullable(t.String()),
    inbound_listener: t.Boolean({ description: "MAILROOM_INBOUND_PORT is set: DSNs and feedback reports to the bounce domain are received here" }),
    dns: t.Array(Strict({ type: t.String(), name: t.String(), value: t.String() }), { description: "Records to publish for the bounce domain" }),
  },
  "Bounce handling: VERP return paths and the inbound bounce listener",
);

export const StatusSchema = t.Union([
  Strict({ channel: t.Null(), channels: t.Array(Strict({ id: Int(), slug: t.String(), name: t.String() })) }, "Several target channels: pick one"),
  Strict({
    channel: Strict({ id: Int(), slug: t.String(), name: t.String(), sender_email: Nullable(t.String()), sender_name: Nullable(t.String()) }),
    subscribers: Strict({ total: Int(), active: Int() }),
    readiness: byPurpose(t.Boolean()),
    delivery: byPurpose(t.Union([t.Literal("servers"), t.Literal("capture"), t.Literal("none")])),
    issues: t.Array(Strict({ code: t.String(), message: t.String() })),
    quota: Strict({ monthly_send_quota: Nullable(Int()), used: Int(), remaining: Nullable(Int()), resets_at: t.String({ format: "date-time" }) }),
    bounces: BouncesSchema,
  }),
]);

export const PrimeSchema = Strict({
  platform: t.Literal("mailroom"),
  version: t.String(),
  api_version: t.Literal("v1"),
  base_url: t.String(),
  token: TokenMeta,
  channel: ChannelBrief,
  channels: t.Array(Strict({ id: Int(), slug: t.String(), readiness: byPurpose(t.Boolean()) })),
  permissions: t.Array(t.String()),
  endpoints: t.Array(Strict({ method: t.String(), path: t.String(), permission: Nullable(t.String()), summary: t.String() })),
  rate_limits: RateLimits,
  idempotency: Strict({ header: t.String(), routes: t.Array(t.String()) }),
  tips: t.Array(t.String()),
});
