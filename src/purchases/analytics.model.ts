import { PRODUCT_TYPE, SUBSCRIPTION_STATUS } from '../apple/types.js';
import type { StoredTransaction } from './purchase-update.js';

// What one purchase (every stored transaction of one originalTransactionId, and its
// subscription row) puts into the analytics tables (docs/analytics.md), as pure functions:
// its state row (`purchase_analytics`) and its contributions to the daily rollup
// (`analytics_daily`). Both depend on the stored records only, never on the order they
// arrived in: the write side subtracts a purchase's contributions before a change and adds
// those after it, so the rollup is always the sum over the stored purchases. The
// migration `analytics_rollup` computes the same in SQL for existing rows (its function
// `analytics_rebuild()`); test/analytics checks that both agree.

/** What the analytics read of a transaction. */
export type AnalyticsRecord = Pick<
  StoredTransaction,
  | 'transactionId'
  | 'originalTransactionId'
  | 'productId'
  | 'productType'
  | 'environment'
  | 'purchaseDate'
  | 'originalPurchaseDate'
  | 'expiresDate'
  | 'revocationDate'
  | 'revocationType'
  | 'isUpgraded'
  | 'offerType'
  | 'offerDiscountType'
  | 'price'
  | 'currency'
>;

/** What the analytics read of a subscription row (renewal info and Apple's status). */
export interface AnalyticsSignals {
  appleStatus: number | null;
  statusSignedDate: Date | null;
  /** Renewal info counts only once signed (with its product id), as the state model reads it. */
  renewalSignedDate: Date | null;
  renewalProductId: string | null;
  isInBillingRetryPeriod: boolean | null;
  gracePeriodExpiresDate: Date | null;
}

export interface PurchaseAnalyticsRow {
  originalTransactionId: string;
  environment: string;
  productId: string;
  productType: string;
  purchaseDate: Date;
  expiresDate: Date | null;
  offerType: number | null;
  offerDiscountType: string | null;
  revoked: boolean;
  gracePeriodExpiresDate: Date | null;
  activeUntil: Date | null;
}

export const ROLLUP_COUNTS = ['newSubscriptions', 'renewals', 'expirations', 'refunds', 'trialConversions'] as const;
export type RollupCount = (typeof ROLLUP_COUNTS)[number];

/** One row of the rollup, or a change to one. */
export interface RollupRow {
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  environment: string;
  productId: string;
  /** '' when the transaction has none. */
  currency: string;
  newSubscriptions: number;
  renewals: number;
  expirations: number;
  refunds: number;
  trialConversions: number;
  /** Gross, milliunits of `currency`. */
  revenue: number;
}

const { autoRenewable: AUTO_RENEWABLE, consumable: CONSUMABLE } = PRODUCT_TYPE;
const { active: ACTIVE, expired: EXPIRED, billingRetry: BILLING_RETRY, gracePeriod: GRACE_PERIOD, revoked: REVOKED } = SUBSCRIPTION_STATUS;
/** Apple's offerType of an introductory offer; free, it is a trial. */
const INTRODUCTORY = 1;
const FAMILY_REVOKE = 'FAMILY_REVOKE';
/** As the state model: status and renewal info signed up to a day before a period began describe it. */
const RENEWAL_LEAD_MS = 24 * 60 * 60 * 1000;

const dayOf = (at: Date) => at.toISOString().slice(0, 10);
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const time = (d: Date | null, ifNull: number) => (d === null ? ifNull : d.getTime());

export const isFreeTrial = (t: Pick<AnalyticsRecord, 'offerType' | 'offerDiscountType'>) =>
  t.offerType === INTRODUCTORY && t.offerDiscountType === 'FREE_TRIAL';

/** The first transaction of its subscription (Apple repeats the original's id and date on it). */
const isFirst = (t: AnalyticsRecord) =>
  t.transactionId === t.originalTransactionId || (t.originalPurchaseDate !== null && t.originalPurchaseDate.getTime() === t.purchaseDate.getTime());

/**
 * The current period, as the state model picks it when the latest is not revoked: the
 * latest transaction not upgraded (by purchaseDate, then the later expiry, no expiry
 * first, then transactionId), or the latest of all when every one is upgraded. Consumables
 * grant nothing: undefined when only they are left.
 */
export function currentPeriod(records: readonly AnalyticsRecord[]): AnalyticsRecord | undefined {
  let best: AnalyticsRecord | undefined;
  for (const t of records) {
    if (t.productType === CONSUMABLE) continue;
    if (best === undefined) {
      best = t;
      continue;
    }
    const order =
      Number(best.isUpgraded) - Number(t.isUpgraded) ||
      t.purchaseDate.getTime() - best.purchaseDate.getTime() ||
      time(t.expiresDate, Infinity) - time(best.expiresDate, Infinity) ||
      compareText(t.transactionId, best.transactionId);
    if (order > 0) best = t;
  }
  return best;
}

type Lapse = 'retrying' | 'retrying_without_grace' | 'not_retrying';

/** As the state model's lapse: the newer of Apple's status and the renewal info speaks. */
function lapseOf(current: AnalyticsRecord, signals: AnalyticsSignals): Lapse {
  const describes = (at: Date | null) => at !== null && at.getTime() >= current.purchaseDate.getTime() - RENEWAL_LEAD_MS;
  const statusSpeaks = describes(signals.statusSignedDate);
  const renewalSpeaks = signals.renewalProductId !== null && describes(signals.renewalSignedDate);
  const status = statusSpeaks ? signals.appleStatus : null;
  const fromStatus: Lapse | null =
    status === GRACE_PERIOD
      ? 'retrying'
      : status === BILLING_RETRY
        ? 'retrying_without_grace'
        : status === ACTIVE || status === EXPIRED
          ? 'not_retrying'
          : null;
  const flag = renewalSpeaks ? signals.isInBillingRetryPeriod : null;
  const fromRenewal: Lapse | null = flag === null ? null : flag ? 'retrying' : 'not_retrying';
  if (fromStatus === null) return fromRenewal ?? 'not_retrying';
  if (fromRenewal === null) return fromStatus;
  return signals.renewalSignedDate!.getTime() > signals.statusSignedDate!.getTime() ? fromRenewal : fromStatus;
}

/** The purchase's `purchase_analytics` row, or null when it grants nothing (consumables only). */
export function purchaseAnalyticsRow(records: readonly AnalyticsRecord[], signals: AnalyticsSignals | undefined): PurchaseAnalyticsRow | null {
  const current = currentPeriod(records);
  if (current === undefined) return null;
  const revoked =
    current.revocationDate !== null ||
    (signals !== undefined &&
      signals.appleStatus === REVOKED &&
      signals.statusSignedDate !== null &&
      signals.statusSignedDate.getTime() >= current.purchaseDate.getTime());
  const grace =
    current.productType === AUTO_RENEWABLE && signals !== undefined && lapseOf(current, signals) === 'retrying' ? signals.gracePeriodExpiresDate : null;
  const expires = current.expiresDate;
  return {
    originalTransactionId: current.originalTransactionId,
    environment: current.environment,
    productId: current.productId,
    productType: current.productType,
    purchaseDate: current.purchaseDate,
    expiresDate: expires,
    offerType: current.offerType,
    offerDiscountType: current.offerDiscountType,
    revoked,
    gracePeriodExpiresDate: grace,
    activeUntil: revoked || expires === null ? null : grace !== null && grace.getTime() > expires.getTime() ? grace : expires,
  };
}

const emptyRow = (day: string, t: Pick<AnalyticsRecord, 'environment' | 'productId' | 'currency'>): RollupRow => ({
  day,
  environment: t.environment,
  productId: t.productId,
  currency: t.currency ?? '',
  newSubscriptions: 0,
  renewals: 0,
  expirations: 0,
  refunds: 0,
  trialConversions: 0,
  revenue: 0,
});

export const rollupKey = (row: Pick<RollupRow, 'day' | 'environment' | 'productId' | 'currency'>) =>
  `${row.day}\u0000${row.environment}\u0000${row.productId}\u0000${row.currency}`;

/**
 * Adds `sign` × the purchase's contributions into `into` (rollup key → row):
 * - every transaction with a price and a currency: its price as revenue, on its purchase day;
 * - every auto-renewable transaction: a new subscription (the first of its subscription) or
 *   a renewal (any later one), on its purchase day;
 * - every revoked transaction but a family-sharing revocation: a refund, on its revocation day;
 * - every auto-renewable transaction that directly follows a free trial of the same
 *   subscription (by purchaseDate) and is no free trial itself: a trial conversion, on its
 *   purchase day;
 * - the current period of an auto-renewable subscription, when it is not refunded and not
 *   upgraded: an expiration on its expiry day (read only for days that have passed; a
 *   renewal that arrives later moves it to the new period's end).
 */
export function addContributions(into: Map<string, RollupRow>, records: readonly AnalyticsRecord[], sign: 1 | -1): void {
  const add = (day: string, t: AnalyticsRecord, field: RollupCount | 'revenue', amount: number) => {
    const key = rollupKey({ day, environment: t.environment, productId: t.productId, currency: t.currency ?? '' });
    let row = into.get(key);
    if (row === undefined) {
      row = emptyRow(day, t);
      into.set(key, row);
    }
    row[field] += sign * amount;
  };
  const subscriptionPeriods: AnalyticsRecord[] = [];
  for (const t of records) {
    const purchaseDay = dayOf(t.purchaseDate);
    if (t.price !== null && t.currency !== null) add(purchaseDay, t, 'revenue', t.price);
    if (t.productType === AUTO_RENEWABLE) {
      add(purchaseDay, t, isFirst(t) ? 'newSubscriptions' : 'renewals', 1);
      subscriptionPeriods.push(t);
    }
    if (t.revocationDate !== null && t.revocationType !== FAMILY_REVOKE) add(dayOf(t.revocationDate), t, 'refunds', 1);
  }
  subscriptionPeriods.sort((a, b) => a.purchaseDate.getTime() - b.purchaseDate.getTime() || compareText(a.transactionId, b.transactionId));
  for (let i = 1; i < subscriptionPeriods.length; i++) {
    const t = subscriptionPeriods[i]!;
    if (isFreeTrial(subscriptionPeriods[i - 1]!) && !isFreeTrial(t)) add(dayOf(t.purchaseDate), t, 'trialConversions', 1);
  }
  const current = currentPeriod(records);
  if (current?.productType === AUTO_RENEWABLE && current.expiresDate !== null && current.revocationDate === null && !current.isUpgraded) {
    add(dayOf(current.expiresDate), current, 'expirations', 1);
  }
}

/** The rows of `changes` that change something, in key order (so concurrent writers lock rows in one order). */
export function nonZero(changes: Map<string, RollupRow>): RollupRow[] {
  return [...changes]
    .filter(([, row]) => ROLLUP_COUNTS.some((field) => row[field] !== 0) || row.revenue !== 0)
    .sort(([a], [b]) => compareText(a, b))
    .map(([, row]) => row);
}
