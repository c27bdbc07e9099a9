// What the analytics routes count, as pure functions: the query window, its UTC days and
// buckets, and the summary's tallies (docs/analytics.md has the definitions).
import { badRequest } from '../errors.js';
import { bucketStart, type CountPoint, DAY_MS, type Interval, nextBucket, type RevenuePoint } from './buckets.js';

// The metrics, intervals, buckets and points live in buckets.ts, which the console shares.
export { bucketStart, type CountPoint, INTERVALS, type Interval, METRICS, type Metric, nextBucket, type RevenuePoint } from './buckets.js';

/** The most buckets one timeseries answers (a little under three years of days). */
export const MAX_BUCKETS = 1_000;

export interface Window {
  from: Date;
  to: Date;
  interval: Interval;
  /** The start of every bucket the window touches, oldest first (the first may start before `from`). */
  starts: Date[];
}

// A date, a time and an explicit zone: an instant, whatever the server's time zone.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

function parseInstant(field: 'from' | 'to', raw: string): Date {
  const parsed = INSTANT.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(parsed)) {
    throw badRequest('INVALID_DATE', `${field} must be an ISO 8601 instant with a time zone such as 2026-01-31T00:00:00Z, got "${raw}"`);
  }
  return new Date(parsed);
}

/** `from` inclusive, `to` exclusive; 400 with a code naming the field otherwise. */
export function parseWindow(input: { from: string; to: string; interval: Interval }): Window {
  const from = parseInstant('from', input.from);
  const to = parseInstant('to', input.to);
  if (from.getTime() >= to.getTime()) throw badRequest('INVALID_RANGE', 'from must be before to');
  const starts: Date[] = [];
  for (let start = bucketStart(from, input.interval); start.getTime() < to.getTime(); start = nextBucket(start, input.interval)) {
    if (starts.length === MAX_BUCKETS) {
      throw badRequest('TOO_MANY_BUCKETS', `from..to spans more than ${MAX_BUCKETS} ${input.interval} buckets: narrow the range or use a longer interval`);
    }
    starts.push(start);
  }
  return { from, to, interval: input.interval, starts };
}

/** The UTC day (YYYY-MM-DD) holding `at`. */
export const dayOf = (at: Date) => at.toISOString().slice(0, 10);

/** The UTC midnight at or before `at`. */
export const startOfDay = (at: Date) => new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);

/**
 * The whole UTC days the window touches: the rollup counts per day, so a day counts when
 * any of it lies in [from, to) (from rounded down to its midnight, to up to the next).
 */
export function daysOf(window: Pick<Window, 'from' | 'to'>): { fromDay: string; toDay: string; from: Date; to: Date } {
  const from = startOfDay(window.from);
  const end = startOfDay(window.to);
  const to = end.getTime() === window.to.getTime() ? end : new Date(end.getTime() + DAY_MS);
  return { fromDay: dayOf(from), toDay: dayOf(to), from, to };
}

/** A bucket's key as the repository groups by it: the UTC date its bucket starts on. */
export const bucketKey = (start: Date) => start.toISOString().slice(0, 10);

/** Every bucket of the window, zero where nothing happened. */
export function countPoints(window: Window, counts: ReadonlyMap<string, number>): CountPoint[] {
  return window.starts.map((start) => ({ start: start.toISOString(), value: counts.get(bucketKey(start)) ?? 0 }));
}

/** Sums arrive in milliunits (integers), so units are exact to the thousandth. */
export function revenuePoints(window: Window, sums: ReadonlyArray<{ bucket: string; currency: string; milliunits: number }>): RevenuePoint[] {
  const byBucket = new Map<string, Record<string, number>>();
  for (const { bucket, currency, milliunits } of sums) {
    const currencies = byBucket.get(bucket) ?? {};
    currencies[currency] = (currencies[currency] ?? 0) + milliunits;
    byBucket.set(bucket, currencies);
  }
  return window.starts.map((start) => {
    const milli = byBucket.get(bucketKey(start)) ?? {};
    const sorted = Object.keys(milli).sort();
    return { start: start.toISOString(), byCurrency: Object.fromEntries(sorted.map((currency) => [currency, milli[currency]! / 1000])) };
  });
}

/** key → count, keys sorted so answers compare equal. */
export function tally(keys: Iterable<string>): Record<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
