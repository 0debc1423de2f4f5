import { t, type Static } from "elysia";
import type { Channel } from "@/db/schema";
import { f, result } from "@/input/fields";
import { Int, Nullable, Strict, Time } from "@/input/schemas";
import { isEmail } from "@/lib/email";
import { toIso } from "@/lib/time";

export const SLUG = /^(?![0-9]+$)[a-z0-9][a-z0-9-]{0,49}$/;

const email = () =>
  f.custom((v) => (typeof v === "string" && isEmail(v.trim()) ? result.ok(v.trim()) : result.err("is invalid")), {
    nullable: true,
    schema: { type: "string", format: "email" },
  });

export const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

export const ChannelFields = {
  name: f.string({ required: true, max: 100 }),
  slug: f.string({ max: 50, pattern: SLUG }),
  sender_email: email(),
  sender_name: f.string({ max: 100, nullable: true }),
  reply_to: email(),
  timezone: f.custom((v) => (typeof v === "string" && isTimeZone(v) ? result.ok(v) : result.err("is not a valid IANA time zone")), {
    nullAs: "UTC",
    schema: { type: "string", description: "An IANA time zone; null resets it to UTC" },
  }),
  physical_address: f.string({ max: 500, nullable: true }),
  monthly_send_quota: f.integer({ min: 0, nullable: true }),
};

/** A slug from a name: lower-case, dashes, ≤ 50, `c-` prefix when all digits. */
export function slugify(name: string): string {
  let slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 50)
    .replace(/-+$/, "");
  if (!slug) slug = "channel";
  if (/^[0-9]+$/.test(slug)) slug = `c-${slug}`.slice(0, 50);
  return slug;
}

/** The §15 channel object. */
export const ChannelSchema = Strict({
  id: Int(),
  name: t.String(),
  slug: t.String(),
  sender_email: Nullable(t.String()),
  sender_name: Nullable(t.String()),
  reply_to: Nullable(t.String()),
  timezone: t.String(),
  physical_address: Nullable(t.String()),
  monthly_send_quota: Nullable(Int()),
  default: t.Boolean(),
  created_at: Time,
  updated_at: Time,
});

export function encodeChannel(c: Channel): Static<typeof ChannelSchema> {
  return {
    id: c.id,
    name: c.name,
    slug: c.slug,
    sender_email: c.sender_email,
    sender_name: c.sender_name,
    reply_to: c.reply_to,
    timezone: c.timezone,
    physical_address: c.physical_address,
    monthly_send_quota: c.monthly_send_quota,
    default: c.is_default,
    created_at: toIso(c.created_at),
    updated_at: toIso(c.updated_at),
  };
}
