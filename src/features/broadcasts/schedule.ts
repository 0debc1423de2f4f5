/**
 * Scheduled send times (§5): an ISO-8601 time with an offset is absolute; one without is a wall
 * clock time in `scheduled_timezone` (IANA, default UTC), converted with the zone's offset at that
 * moment (daylight saving included). It must lie in the future and at most 366 days ahead (§20).
 */
import { validationError } from "@/lib/errors";
import { parseIsoTime } from "@/lib/time";

const DAY = 86_400_000;
export const MAX_SCHEDULE_DAYS = 366;

/** Offset of `zone` from UTC at instant `ms`, in ms (Europe/Berlin in winter: +3_600_000). */
function zoneOffset(zone: string, ms: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(ms);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wall - Math.floor(ms / 1000) * 1000;
}

/** The instant of wall-clock time `wall` (read as if UTC) in `zone`. */
export function fromZonedWallClock(wall: number, zone: string): number {
  const first = wall - zoneOffset(zone, wall);
  // Second pass: the offset at the instant itself (differs near a daylight-saving change).
  return wall - zoneOffset(zone, first);
}

/**
 * Unix ms of `value` read in `zone`.
 * @throws 422 on `scheduled_send_at` when unparseable, in the past or more than 366 days ahead.
 */
export function scheduledTime(value: string, zone: string | null, now: number): number {
  const parsed = parseIsoTime(value);
  if (parsed === null) throw validationError({ scheduled_send_at: ["is not a valid ISO-8601 time"] });
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(value);
  const at = hasOffset || !zone ? parsed : fromZonedWallClock(parsed, zone);
  if (at <= now) throw validationError({ scheduled_send_at: ["must be in the future"] });
  if (at > now + MAX_SCHEDULE_DAYS * DAY) throw validationError({ scheduled_send_at: [`must be at most ${MAX_SCHEDULE_DAYS} days ahead`] });
  return at;
}
