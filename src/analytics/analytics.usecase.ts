import { setImmediate } from 'node:timers/promises';
import type { Environment } from '../apple/types.js';
import { PRODUCT_TYPE } from '../apple/types.js';
import type { Clock } from '../clock.js';
import type { EntitlementMap } from '../entitlements/entitlement-map.js';
import { periodTypeOf } from '../entitlements/period-type.model.js';
import { evaluatePurchase } from '../entitlements/state.model.js';
import { type CountPoint, countPoints, type Interval, type Metric, parseWindow, type RevenuePoint, revenuePoints, tally } from './analytics.model.js';
import type { AnalyticsRepository, PurchaseForSummary } from './analytics.repository.js';

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
  /**
   * At most `maxAgeMs` old (default a minute): computed once for every caller meanwhile, and
   * again in the background once half that age is reached.
   */
  summary(input?: { environment?: Environment | undefined }): Promise<AnalyticsSummary>;
  /** 400 INVALID_DATE / INVALID_RANGE / TOO_MANY_BUCKETS for a bad window. */
  timeseries(input: TimeseriesInput): Promise<Timeseries>;
}

/** What the summary keeps of each purchase active now: enough to filter and count. */
interface ActivePurchase {
  environment: Environment;
  subscription: { productId: string; status: string; periodType: string } | null;
  userId: string | null;
  entitlements: string[];
}

interface Snapshot {
  at: Date;
  active: ActivePurchase[];
}

const AUTO_RENEWABLE = PRODUCT_TYPE.autoRenewable;
const YIELD_EVERY = 2_000;

function activePurchase(purchase: PurchaseForSummary, now: Date, map: EntitlementMap): ActivePurchase | null {
  const state = evaluatePurchase({ ...purchase, now, durationOf: (id) => map.durationOf(id) });
  if (state === null || !state.active) return null;
  const current = purchase.transactions.find((t) => t.transactionId === state.transactionId);
  return {
    environment: state.environment,
    subscription:
      state.productType === AUTO_RENEWABLE
        ? {
            productId: state.productId,
            status: state.status,
            periodType: (current && periodTypeOf(current.offerType, current.offerDiscountType)) ?? 'unknown',
          }
        : null,
    userId: purchase.userId,
    entitlements: map.entitlementsFor(state.productId),
  };
}

function summarize(snapshot: Snapshot, environment: Environment | undefined): AnalyticsSummary {
  const active = environment === undefined ? snapshot.active : snapshot.active.filter((p) => p.environment === environment);
  const subscriptions = active.flatMap((p) => (p.subscription === null ? [] : [p.subscription]));
  // Users holding each entitlement, each user once however many purchases grant it.
  const holders = new Map<string, Set<string>>();
  for (const purchase of active) {
    if (purchase.userId === null) continue;
    for (const entitlement of purchase.entitlements) {
      const users = holders.get(entitlement) ?? new Set<string>();
      users.add(purchase.userId);
      holders.set(entitlement, users);
    }
  }
  return {
    asOf: snapshot.at.toISOString(),
    activeSubscriptions: {
      total: subscriptions.length,
      byProduct: tally(subscriptions.map((s) => s.productId)),
      byStatus: tally(subscriptions.map((s) => s.status)),
      byPeriodType: tally(subscriptions.map((s) => s.periodType)),
    },
    activeEntitlements: Object.fromEntries([...holders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, users]) => [id, users.size])),
  };
}

export function createAnalyticsUsecase(deps: {
  repository: AnalyticsRepository;
  entitlementMap: EntitlementMap;
  clock: Clock;
  /** How old a summary may be when served. Default 60 s (SPEC: at most a minute). */
  maxAgeMs?: number;
}): AnalyticsUsecase {
  const maxAgeMs = deps.maxAgeMs ?? 60_000;
  let snapshot: Snapshot | null = null;
  let computing: Promise<Snapshot> | null = null;

  async function compute(): Promise<Snapshot> {
    const at = deps.clock();
    const purchases = await deps.repository.purchasesMaybeActive(at);
    const active: ActivePurchase[] = [];
    for (let i = 0; i < purchases.length; i++) {
      // A hundred thousand purchases take a second or more to evaluate: let requests in between.
      if (i > 0 && i % YIELD_EVERY === 0) await setImmediate();
      const purchase = activePurchase(purchases[i]!, at, deps.entitlementMap);
      if (purchase !== null) active.push(purchase);
    }
    return { at, active };
  }

  // One computation at a time, shared by every caller that arrives while it runs; a failed
  // one is not kept, so the next request tries again.
  function recompute(): Promise<Snapshot> {
    computing ??= compute()
      .then((computed) => {
        snapshot = computed;
        return computed;
      })
      .finally(() => {
        computing = null;
      });
    return computing;
  }

  // Past half its age a snapshot is still served, and the next one is computed meanwhile:
  // a console that asks every few seconds never waits for a count; only the first request
  // after a quiet minute does.
  function fresh(): Promise<Snapshot> {
    const age = snapshot === null ? Infinity : deps.clock().getTime() - snapshot.at.getTime();
    if (snapshot === null || age >= maxAgeMs) return recompute();
    if (age >= maxAgeMs / 2) recompute().catch(() => undefined);
    return Promise.resolve(snapshot);
  }

  return {
    async summary(input = {}) {
      return summarize(await fresh(), input.environment);
    },

    async timeseries(input) {
      const window = parseWindow(input);
      const query = { from: window.from, to: window.to, interval: window.interval, environment: input.environment, now: deps.clock() };
      if (input.metric === 'revenue') {
        return { metric: 'revenue', interval: input.interval, points: revenuePoints(window, await deps.repository.revenue(query)) };
      }
      const counts = await deps.repository.counts({ ...query, metric: input.metric });
      return { metric: input.metric, interval: input.interval, points: countPoints(window, counts) };
    },
  };
}
