/** The one edge of the world tests may fake: wall-clock time in unix milliseconds. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

// Hot paths format the same millisecond over and over (whoami's last_used_at): the last one is kept.
let lastMs = NaN;
let lastIso = "";

export const toIso = (ms: number | null | undefined): string | null => {
  if (ms == null) return null;
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
};

/** Parses any ISO-8601 date/time; a value without an offset is UTC. Returns null when unparseable. */
export function parseIsoTime(value: unknown): number | null {
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}/.test(value)) return null;
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(value);
  const ms = Date.parse(hasOffset || value.length === 10 ? value : value + "Z");
  if (!Number.isFinite(ms)) return null;
  // Date.parse rolls impossible days over ("2030-02-30" → 2 March): the day must exist in its month.
  const [year, month, day] = [Number(value.slice(0, 4)), Number(value.slice(5, 7)), Number(value.slice(8, 10))];
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate() ? ms : null;
}

/** First instant of the UTC calendar month containing `ms`, and of the next one. */
export function utcMonthBounds(ms: number): { start: number; end: number } {
  const d = new Date(ms);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

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

const DAY_MS = 86_400_000;

/**
 * The first instant after `now` at which the wall clock in `zone` reads `hhmm` ("HH:MM"). Daylight
 * saving is honoured: 09:00 stays 09:00 local across a change; a time skipped by a change runs
 * one hour later that day.
 */
export function nextWallClockTime(hhmm: string, zone: string, now: number): number {
  const [hours, minutes] = hhmm.split(":").map(Number);
  const today = now + zoneOffset(zone, now);
  const midnight = today - (((today % DAY_MS) + DAY_MS) % DAY_MS);
  for (let day = 0; day < 3; day++) {
    const at = fromZonedWallClock(midnight + day * DAY_MS + (hours * 60 + minutes) * 60_000, zone);
    if (at > now) return at;
  }
  throw new Error(`no next occurrence of ${hhmm} in ${zone}`);
}
