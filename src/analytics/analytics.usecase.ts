import type { Environment } from '../apple/types.js';
import { PRODUCT_TYPE } from '../apple/types.js';
import type { Clock } from '../clock.js';
import type { EntitlementMap } from '../entitlements/entitlement-map.js';
import { periodTypeOf } from '../entitlements/period-type.model.js';
import {
  type CountPoint,
  countPoints,
  dayOf,
  daysOf,
  type Interval,
  type Metric,
  parseWindow,
  type RevenuePoint,
  revenuePoints,
  startOfDay,
} from './analytics.model.js';
import type { ActiveGroup, AnalyticsRepository, CatalogDuration, CountColumn } from './analytics.repository.js';

export interface AnalyticsSummary {
  asOf: string;
  activeSubscriptions: {
    total: number;
    byProduct: Record<string, number>;
    byStatus: Record<string, number>;
    byPeriodType: Record<string, number>;
  };
  activeEntitlements: Record<string, number>;
}

export interface TimeseriesInput {
  metric: Metric;
  from: string;
  to: string;
  interval: Interval;
  environment?: Environment | undefined;
}

export type Timeseries =
  | { metric: Exclude<Metric, 'revenue'>; interval: Interval; points: CountPoint[] }
  | { metric: 'revenue'; interval: Interval; points: RevenuePoint[] };

export interface AnalyticsUsecase {
  /** Counted at request time from the per-purchase state table (asOf: now). */
  summary(input?: { environment?: Environment | undefined }): Promise<AnalyticsSummary>;
  /** From the daily rollup. 400 INVALID_DATE / INVALID_RANGE / TOO_MANY_BUCKETS for a bad window. */
  timeseries(input: TimeseriesInput): Promise<Timeseries>;
}

const COLUMN: Record<Exclude<Metric, 'revenue'>, CountColumn> = {
  new_subscriptions: 'newSubscriptions',
  renewals: 'renewals',
  expirations: 'expirations',
  refunds: 'refunds',
  trial_conversions: 'trialConversions',
};

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** key → count summed, keys sorted so answers compare equal. */
function sumBy(entries: Iterable<[string, number]>): Record<string, number> {
  const sums = new Map<string, number>();
  for (const [key, value] of entries) sums.set(key, (sums.get(key) ?? 0) + value);
  return Object.fromEntries([...sums].sort(([a], [b]) => compareText(a, b)));
}

export function createAnalyticsUsecase(deps: { repository: AnalyticsRepository; entitlementMap: EntitlementMap; clock: Clock }): AnalyticsUsecase {
  const { repository, entitlementMap: map } = deps;

  /** Non-renewing products among the open groups whose catalog duration ends them. */
  function catalogDurations(groups: readonly ActiveGroup[]): CatalogDuration[] {
    const products = new Set(groups.filter((g) => g.open && g.productType === PRODUCT_TYPE.nonRenewing).map((g) => g.productId));
    return [...products].flatMap((productId) => {
      const duration = map.durationOf(productId);
      return duration === null ? [] : [{ productId, duration: duration.text }];
    });
  }

  return {
    async summary(input = {}) {
      const now = deps.clock();
      const { environment } = input;
      let groups = await repository.activeGroups(now, environment, []);
      // Rare: non-renewing subscriptions the catalog ends; counted again with their ends.
      const durations = catalogDurations(groups);
      if (durations.length > 0) groups = await repository.activeGroups(now, environment, durations);

      const subscriptions = groups.filter((g) => g.productType === PRODUCT_TYPE.autoRenewable);
      const products = [...new Set(groups.map((g) => g.productId))];
      const grants = products.flatMap((productId) => map.entitlementsFor(productId).map((entitlement) => ({ productId, entitlement })));
      const holders = await repository.entitlementHolders(now, environment, durations, grants);
      return {
        asOf: now.toISOString(),
        activeSubscriptions: {
          total: subscriptions.reduce((sum, g) => sum + g.count, 0),
          byProduct: sumBy(subscriptions.map((g) => [g.productId, g.count])),
          byStatus: sumBy(subscriptions.map((g) => [g.inGrace ? 'grace_period' : 'active', g.count])),
          byPeriodType: sumBy(subscriptions.map((g) => [periodTypeOf(g.offerType, g.offerDiscountType) ?? 'unknown', g.count])),
        },
        activeEntitlements: sumBy(holders),
      };
    },

    async timeseries(input) {
      const window = parseWindow(input);
      const days = daysOf(window);
      const query = { fromDay: days.fromDay, toDay: days.toDay, interval: window.interval, environment: input.environment };
      if (input.metric === 'revenue') {
        return { metric: 'revenue', interval: input.interval, points: revenuePoints(window, await repository.revenue(query)) };
      }
      if (input.metric !== 'expirations') {
        const counts = await repository.counts(COLUMN[input.metric], query);
        return { metric: input.metric, interval: input.interval, points: countPoints(window, counts) };
      }
      // An expiration counts once its instant has passed: whole days before today from the
      // rollup, today's part so far from the state rows.
      const now = deps.clock();
      const today = startOfDay(now);
      const pastDays = { ...query, toDay: days.to.getTime() < today.getTime() ? days.toDay : dayOf(today) };
      const counts = pastDays.fromDay < pastDays.toDay ? await repository.counts('expirations', pastDays) : new Map<string, number>();
      if (days.from.getTime() <= today.getTime() && today.getTime() < days.to.getTime()) {
        const sinceMidnight = await repository.expirationsBetween(today, now, input.environment);
        const key = dayOf(window.starts.findLast((start) => start.getTime() <= today.getTime()) ?? today);
        counts.set(key, (counts.get(key) ?? 0) + sinceMidnight);
      }
      return { metric: input.metric, interval: input.interval, points: countPoints(window, counts) };
    },
  };
}
