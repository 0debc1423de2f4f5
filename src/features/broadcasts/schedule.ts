/**
 * Scheduled send times (§5): an ISO-8601 time with an offset is absolute; one without is a wall
 * clock time in `scheduled_timezone` (IANA, default UTC), converted with the zone's offset at that
 * moment (daylight saving included). It must lie in the future and at most 366 days ahead (§20).
 */
import { validationError } from "@/lib/errors";
import { fromZonedWallClock, parseIsoTime } from "@/lib/time";

const DAY = 86_400_000;
export const MAX_SCHEDULE_DAYS = 366;

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
