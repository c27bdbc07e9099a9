// What the analytics timeseries are made of, shared by the service (analytics.model.ts) and
// the console (console/src/shape.ts, built separately by Vite): the metrics, the intervals,
// the UTC buckets and the points' shapes. Pure and import-free, so both builds take it as is.

export const METRICS = ['new_subscriptions', 'renewals', 'expirations', 'refunds', 'trial_conversions', 'revenue'] as const;
export type Metric = (typeof METRICS)[number];
export const INTERVALS = ['day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

export const DAY_MS = 86_400_000;

/** The UTC start of the bucket holding `at`: midnight, Monday midnight (ISO weeks) or the 1st. */
export function bucketStart(at: Date, interval: Interval): Date {
  const day = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  if (interval === 'day') return new Date(day);
  if (interval === 'month') return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const sinceMonday = (at.getUTCDay() + 6) % 7;
  return new Date(day - sinceMonday * DAY_MS);
}

export function nextBucket(start: Date, interval: Interval): Date {
  if (interval === 'day') return new Date(start.getTime() + DAY_MS);
  if (interval === 'week') return new Date(start.getTime() + 7 * DAY_MS);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

/** One bucket of a count metric: `start` is the bucket's UTC start, ISO 8601. */
export interface CountPoint {
  start: string;
  value: number;
}

export interface RevenuePoint {
  start: string;
  /** Gross, in units of each currency (Apple's milliunits / 1000). */
  byCurrency: Record<string, number>;
}
