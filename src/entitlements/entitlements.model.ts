import { type Environment, PRODUCT_TYPE, type ProductType } from '../apple/types.js';
import type { StoredStatus } from '../purchases/purchase-update.js';
import type { EntitlementMap } from './entitlement-map.js';
import type { IsoDuration } from './iso-duration.js';
import { type PeriodType, periodTypeOf } from './period-type.model.js';
import { type EntitlementStatus, evaluatePurchase, type PeriodRecord, type PurchaseState, pickBest, type RenewalSignals } from './state.model.js';

/** A period with what the answer shows of it beyond what the state model reads. */
export interface EntitlementPeriod extends PeriodRecord {
  offerType: number | null;
  offerDiscountType: string | null;
  offerIdentifier: string | null;
  price: number | null;
  currency: string | null;
  revocationReason: number | null;
  revocationType: string | null;
  revocationPercentage: number | null;
}

/** The renewal info's terms of the next renewal, as the answer shows them. */
export interface RenewalTerms {
  renewalPrice: number | null;
  renewalCurrency: string | null;
  renewalDate: Date | null;
  expirationIntent: number | null;
  priceIncreaseStatus: number | null;
}

/** What the entitlement answer needs of one purchase (one originalTransactionId) of a user. */
export interface PurchaseRecords {
  originalTransactionId: string;
  transactions: EntitlementPeriod[];
  renewal: RenewalSignals | undefined;
  /** Present exactly when `renewal` is. */
  renewalTerms: RenewalTerms | undefined;
  status: StoredStatus | undefined;
  /** Latest updated_at of the rows above. */
  updatedAt: Date;
}

/**
 * One entry of `GET /entitlements/:userId` (SPEC.md), dates as ISO 8601 strings. The
 * purchase's fields are null for a grant or an app purchase (sources.model.ts).
 */
export interface EntitlementView {
  entitlement: string;
  active: boolean;
  status: EntitlementStatus;
  productId: string | null;
  productType: string | null;
  environment: string | null;
  originalTransactionId: string | null;
  transactionId: string | null;
  purchaseDate: string | null;
  originalPurchaseDate: string | null;
  expiresDate: string | null;
  gracePeriodExpiresDate: string | null;
  willRenew: boolean | null;
  autoRenewProductId: string | null;
  ownershipType: string | null;
  revocationDate: string | null;
  revocationReason: number | null;
  revocationType: string | null;
  revocationPercentage: number | null;
  periodType: PeriodType | null;
  offerIdentifier: string | null;
  price: number | null;
  currency: string | null;
  renewalPrice: number | null;
  renewalCurrency: string | null;
  renewalDate: string | null;
  expirationIntent: number | null;
  priceIncreaseStatus: number | null;
  source: EntitlementSource;
  updatedAt: string;
}

/** Where an entitlement comes from: a purchase, an operator's grant, or having bought the app. */
export type EntitlementSource = 'app_store' | 'grant' | 'app_purchase';

export interface EvaluatedPurchase {
  records: PurchaseRecords;
  state: PurchaseState;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

const AUTO_RENEWABLE = PRODUCT_TYPE.autoRenewable;

/** The answer's fields about the current period's offer, price and refund, and the next renewal. */
function termsOf(records: PurchaseRecords, state: PurchaseState) {
  const period: EntitlementPeriod | undefined = records.transactions.find((t) => t.transactionId === state.transactionId);
  // Renewal info only exists for auto-renewable subscriptions; anything else renews never.
  const renewal = state.productType === AUTO_RENEWABLE ? records.renewalTerms : undefined;
  return {
    revocationReason: period?.revocationReason ?? null,
    revocationType: period?.revocationType ?? null,
    revocationPercentage: period?.revocationPercentage ?? null,
    periodType: period === undefined ? null : periodTypeOf(period.offerType, period.offerDiscountType),
    offerIdentifier: period?.offerIdentifier ?? null,
    price: period?.price ?? null,
    currency: period?.currency ?? null,
    renewalPrice: renewal?.renewalPrice ?? null,
    renewalCurrency: renewal?.renewalCurrency ?? null,
    renewalDate: iso(renewal?.renewalDate ?? null),
    expirationIntent: renewal?.expirationIntent ?? null,
    priceIncreaseStatus: renewal?.priceIncreaseStatus ?? null,
  };
}

/**
 * Every purchase's state at `now`; purchases that grant nothing (consumables) drop out.
 * `durationOf` is the catalog's length of a non-renewing subscription.
 */
export function evaluatePurchases(
  purchases: readonly PurchaseRecords[],
  now: Date,
  durationOf?: (productId: string) => IsoDuration | null,
): EvaluatedPurchase[] {
  const evaluated: EvaluatedPurchase[] = [];
  for (const records of purchases) {
    const state = evaluatePurchase({ transactions: records.transactions, renewal: records.renewal, status: records.status, now, durationOf });
    if (state !== null) evaluated.push({ records, state });
  }
  return evaluated;
}

/**
 * One entry per entitlement id: the best purchase among those whose product grants it
 * (`pickBest`), sorted by entitlement id so the answer is the same on every call.
 */
export function entitlementViews(evaluated: readonly EvaluatedPurchase[], map: EntitlementMap): EntitlementView[] {
  const best = new Map<string, EvaluatedPurchase>();
  for (const candidate of evaluated) {
    for (const entitlement of map.entitlementsFor(candidate.state.productId)) {
      const held = best.get(entitlement);
      if (held === undefined || pickBest(held.state, candidate.state) === candidate.state) best.set(entitlement, candidate);
    }
  }
  return [...best.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([entitlement, { records, state }]) => ({
      entitlement,
      active: state.active,
      status: state.status,
      productId: state.productId,
      productType: state.productType,
      environment: state.environment,
      originalTransactionId: state.originalTransactionId,
      transactionId: state.transactionId,
      purchaseDate: state.purchaseDate.toISOString(),
      originalPurchaseDate: state.originalPurchaseDate.toISOString(),
      expiresDate: iso(state.expiresDate),
      gracePeriodExpiresDate: iso(state.gracePeriodExpiresDate),
      willRenew: state.willRenew,
      autoRenewProductId: state.autoRenewProductId,
      ownershipType: state.ownershipType,
      revocationDate: iso(state.revocationDate),
      ...termsOf(records, state),
      source: 'app_store' as const,
      updatedAt: records.updatedAt.toISOString(),
    }));
}

/**
 * What the refresh decisions need of an evaluated purchase (entitlements.usecase.ts): kept
 * with a cached answer in place of the purchase's records.
 */
export interface RefreshCandidate {
  originalTransactionId: string;
  environment: Environment;
  productType: ProductType;
  /** The instant from which the stored period has ended unheard (periodEndedUnheard); null: not at this evaluation. */
  unheardFrom: number | null;
}

/**
 * An auto-renewable purchase whose stored period has ended while nothing signed after
 * that end has reached us: a renewal (or its failure) may simply not have been notified
 * yet, so it is worth asking the App Store before saying "expired". Read from the state of
 * one evaluation, it holds while that evaluation does (its period's end is one of the
 * instants answer-validity.ts takes).
 */
export function refreshCandidateOf({ records, state }: EvaluatedPurchase): RefreshCandidate {
  const expires = state.expiresDate;
  let unheardFrom: number | null = null;
  if (state.productType === AUTO_RENEWABLE && expires !== null && state.revocationDate === null) {
    const latestSigned = Math.max(
      ...records.transactions.map((t) => t.signedDate.getTime()),
      records.renewal?.signedDate.getTime() ?? 0,
      records.status?.statusSignedDate.getTime() ?? 0,
    );
    if (latestSigned < expires.getTime()) unheardFrom = expires.getTime();
  }
  return { originalTransactionId: state.originalTransactionId, environment: state.environment, productType: state.productType, unheardFrom };
}

/** The purchase's stored period has ended without news at `now` (refreshCandidateOf). */
export function periodEndedUnheard(candidate: RefreshCandidate, now: Date): boolean {
  return candidate.unheardFrom !== null && now.getTime() >= candidate.unheardFrom;
}
