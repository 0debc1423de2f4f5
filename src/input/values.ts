/**
 * What a request's input is, whatever carried it: the normalised parameters (query merged with the
 * body), a CSV body for bulk routes, and the keys that select channels rather than set fields.
 */
export type Input = Record<string, unknown>;

/** A `text/csv` body, accepted only where a route opts in (bulk subscriber import). */
export class CsvBody {
  constructor(readonly text: string) {}
}

/** Channel selector keys: resolved by auth, never warned about, never fields. */
export const SELECTOR_KEYS = new Set(["broadcast_channel_id", "channel", "target", "format"]);
