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
