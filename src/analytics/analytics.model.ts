// What the analytics routes count, as pure functions: the query window and its UTC buckets,
// and the summary's tallies of evaluated purchases (docs/analytics.md has the definitions).
import { badRequest } from '../errors.js';

export const METRICS = ['new_subscriptions', 'renewals', 'expirations', 'refunds', 'trial_conversions', 'revenue'] as const;
export type Metric = (typeof METRICS)[number];
export const INTERVALS = ['day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

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

/** The UTC start of the bucket holding `at`: midnight, Monday midnight (ISO weeks) or the 1st. */
export function bucketStart(at: Date, interval: Interval): Date {
  const day = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  if (interval === 'day') return new Date(day);
  if (interval === 'month') return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const sinceMonday = (at.getUTCDay() + 6) % 7;
  return new Date(day - sinceMonday * 86_400_000);
}

export function nextBucket(start: Date, interval: Interval): Date {
  if (interval === 'day') return new Date(start.getTime() + 86_400_000);
  if (interval === 'week') return new Date(start.getTime() + 7 * 86_400_000);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
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

/** A bucket's key as the repository groups by it: the UTC date its bucket starts on. */
export const bucketKey = (start: Date) => start.toISOString().slice(0, 10);

export interface CountPoint {
  start: string;
  value: number;
}

export interface RevenuePoint {
  start: string;
  /** Gross, in units of each currency (Apple's milliunits / 1000). */
  byCurrency: Record<string, number>;
}

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
