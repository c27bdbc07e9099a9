// ISO 8601 durations for the product catalog (P1M, P3M, P1Y, P7D, P1W, PT1H, …). Written
// by hand: the runtime has no Temporal and this is the one calendar operation we need.

export interface IsoDuration {
  /** As written in the catalog, for logs and errors. */
  text: string;
  years: number;
  months: number;
  days: number;
  /** Hours, minutes and seconds, which have a fixed length. */
  milliseconds: number;
}

const PATTERN = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
// No period sold on the App Store comes near this; it keeps the arithmetic in Date's range.
const MAX_PART = 10_000;

/** The duration, or null when `text` is not a positive ISO 8601 duration of whole units. */
export function parseIsoDuration(text: string): IsoDuration | null {
  const match = PATTERN.exec(text);
  if (match === null || text === 'P' || text.endsWith('T')) return null;
  const parts = match.slice(1).map((part) => (part === undefined ? 0 : Number(part)));
  if (parts.some((part) => part > MAX_PART)) return null;
  const [years = 0, months = 0, weeks = 0, days = 0, hours = 0, minutes = 0, seconds = 0] = parts;
  const duration = { text, years, months, days: weeks * 7 + days, milliseconds: ((hours * 60 + minutes) * 60 + seconds) * 1000 };
  if (duration.years + duration.months + duration.days + duration.milliseconds === 0) return null;
  return duration;
}

/**
 * `start` + `duration` in the UTC calendar: years and months first, clamped to the last day
 * of a shorter month (Jan 31 + P1M = Feb 28 or 29, as Apple bills), then days, then time.
 */
export function addIsoDuration(start: Date, duration: IsoDuration): Date {
  const year = start.getUTCFullYear() + duration.years;
  const month = start.getUTCMonth() + duration.months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const end = new Date(start.getTime());
  end.setUTCFullYear(year, month, Math.min(start.getUTCDate(), lastDay));
  end.setUTCDate(end.getUTCDate() + duration.days);
  return new Date(end.getTime() + duration.milliseconds);
}
