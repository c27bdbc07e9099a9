// Data shaping for the pages: answers of the admin routes turned into what a chart or a
// list needs. Pure functions, unit-tested in test/console/shape.test.ts.

import { bucketStart, type CountPoint, type Interval, METRICS, type Metric, nextBucket, type RevenuePoint } from '../../src/analytics/buckets.js';

// The metrics, intervals, buckets and points are the service's own (src/analytics/buckets.ts).
export type { CountPoint, Interval, Metric, RevenuePoint };
export const COUNT_METRICS: readonly Exclude<Metric, 'revenue'>[] = METRICS.filter((metric): metric is Exclude<Metric, 'revenue'> => metric !== 'revenue');

export const METRIC_LABELS: Record<Metric, string> = {
  new_subscriptions: 'New subscriptions',
  renewals: 'Renewals',
  expirations: 'Expirations',
  refunds: 'Refunds',
  trial_conversions: 'Trial conversions',
  revenue: 'Gross revenue',
};

export type Period = '7d' | '30d' | '90d' | '12m';
export const PERIODS: Record<Period, { label: string; interval: Interval }> = {
  '7d': { label: 'Last 7 days', interval: 'day' },
  '30d': { label: 'Last 30 days', interval: 'day' },
  '90d': { label: 'Last 90 days', interval: 'week' },
  '12m': { label: 'Last 12 months', interval: 'month' },
};

/** The [from, to) window of a period ending with the current UTC day (to = tomorrow 00:00 UTC), whole months for 12m. */
export function periodWindow(period: Period, now: Date): { from: string; to: string; interval: Interval } {
  const to = nextBucket(bucketStart(now, 'day'), 'day');
  const from =
    period === '12m'
      ? new Date(Date.UTC(to.getUTCFullYear() - 1, to.getUTCMonth(), 1))
      : new Date(to.getTime() - { '7d': 7, '30d': 30, '90d': 90 }[period] * 86_400_000);
  return { from: from.toISOString(), to: to.toISOString(), interval: PERIODS[period].interval };
}

/** uPlot's columns: x in seconds since the epoch, then one array per series, same length. */
export interface ChartData {
  labels: string[];
  columns: [number[], ...number[][]];
  total: number[];
}

/** Several count metrics over the same buckets → one chart, one series per metric. */
export function countSeries(series: { metric: string; points: CountPoint[] }[]): ChartData {
  const starts = [...new Set(series.flatMap((s) => s.points.map((p) => p.start)))].sort();
  const x = starts.map((start) => Date.parse(start) / 1000);
  const columns = series.map((s) => {
    const byStart = new Map(s.points.map((p) => [p.start, p.value]));
    return starts.map((start) => byStart.get(start) ?? 0);
  });
  return { labels: series.map((s) => s.metric), columns: [x, ...columns], total: columns.map((values) => values.reduce((a, b) => a + b, 0)) };
}

/** Revenue points → one series per currency (a currency absent from a bucket is 0 there). */
export function revenueSeries(points: RevenuePoint[]): ChartData {
  const currencies = [...new Set(points.flatMap((p) => Object.keys(p.byCurrency)))].sort();
  const x = points.map((p) => Date.parse(p.start) / 1000);
  const columns = currencies.map((currency) => points.map((p) => p.byCurrency[currency] ?? 0));
  const total = columns.map((values) => Math.round(values.reduce((a, b) => a + b, 0) * 100) / 100);
  return { labels: currencies, columns: [x, ...columns], total };
}

/** A map of key → count as rows, largest first (ties by key). */
export function rankedCounts(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

// The customer's timeline: purchases, renewals, refunds, links and grants in one list.

export interface CustomerTransaction {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  purchaseDate: string;
  originalPurchaseDate: string | null;
  expiresDate: string | null;
  revocationDate: string | null;
  revocationReason: number | null;
  price: number | null;
  currency: string | null;
  environment: string;
}
export interface CustomerLinkChange {
  originalTransactionId: string;
  fromUserId: string | null;
  toUserId: string;
  reason: string;
  at: string;
}
export interface CustomerGrant {
  grantId: string;
  entitlement: string;
  startsAt: string;
  expiresDate: string;
  reason: string;
  endedAt: string | null;
}
export interface CustomerLike {
  userId: string;
  purchases: { originalTransactionId: string; transactions: CustomerTransaction[] }[];
  links: { originalTransactionId: string; history: CustomerLinkChange[] }[];
  formerLinks: CustomerLinkChange[];
  grants: CustomerGrant[];
}

export type TimelineKind = 'purchase' | 'renewal' | 'refund' | 'link' | 'unlink' | 'grant' | 'grant_end';
export interface TimelineEntry {
  at: string;
  kind: TimelineKind;
  title: string;
  detail: string;
  price?: { milliunits: number; currency: string | null };
}

/** Every dated thing about a customer, newest first. */
export function customerTimeline(customer: CustomerLike): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const purchase of customer.purchases) {
    for (const t of purchase.transactions) {
      const first = t.transactionId === t.originalTransactionId;
      entries.push({
        at: t.purchaseDate,
        kind: first ? 'purchase' : 'renewal',
        title: `${first ? 'Purchased' : 'Renewed'} ${t.productId}`,
        detail: `transaction ${t.transactionId} (${t.environment})`,
        ...(t.price !== null ? { price: { milliunits: t.price, currency: t.currency } } : {}),
      });
      if (t.revocationDate !== null) {
        entries.push({
          at: t.revocationDate,
          kind: 'refund',
          title: `Refunded ${t.productId}`,
          detail: `transaction ${t.transactionId}${t.revocationReason !== null ? `, reason ${t.revocationReason}` : ''}`,
        });
      }
    }
  }
  const changes = [...customer.links.flatMap((link) => link.history), ...customer.formerLinks];
  const seen = new Set<string>();
  for (const change of changes) {
    const key = `${change.originalTransactionId}|${change.at}|${change.toUserId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const away = change.toUserId !== customer.userId;
    entries.push({
      at: change.at,
      kind: away ? 'unlink' : 'link',
      title: away ? `Purchase ${change.originalTransactionId} moved to ${change.toUserId}` : `Purchase ${change.originalTransactionId} linked`,
      detail: `${change.reason}${change.fromUserId !== null && !away ? ` (from ${change.fromUserId})` : ''}`,
    });
  }
  for (const grant of customer.grants) {
    entries.push({ at: grant.startsAt, kind: 'grant', title: `Granted ${grant.entitlement}`, detail: grant.reason });
    if (grant.endedAt !== null)
      entries.push({ at: grant.endedAt, kind: 'grant_end', title: `Grant of ${grant.entitlement} ended early`, detail: grant.grantId });
  }
  return entries.sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || a.kind.localeCompare(b.kind));
}

/** What the customer search box holds, guessed from its shape when the operator picks "any". */
export type SearchKind = 'user' | 'transaction' | 'original' | 'order' | 'token';
