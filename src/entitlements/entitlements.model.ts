import type { EntitlementMap } from './entitlement-map.js';
import type { PurchaseRecords } from './entitlements.repository.js';
import type { IsoDuration } from './iso-duration.js';
import { evaluatePurchase, pickBest, type EntitlementStatus, type PurchaseState } from './state.model.js';

/** One entry of `GET /entitlements/:userId` (SPEC.md), dates as ISO 8601 strings. */
export interface EntitlementView {
  entitlement: string;
  active: boolean;
  status: EntitlementStatus;
  productId: string;
  productType: string;
  environment: string;
  originalTransactionId: string;
  transactionId: string;
  purchaseDate: string;
  originalPurchaseDate: string;
  expiresDate: string | null;
  gracePeriodExpiresDate: string | null;
  willRenew: boolean | null;
  autoRenewProductId: string | null;
  ownershipType: string | null;
  revocationDate: string | null;
  updatedAt: string;
}

export interface EvaluatedPurchase {
  records: PurchaseRecords;
  state: PurchaseState;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

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
      updatedAt: records.updatedAt.toISOString(),
    }));
}

const AUTO_RENEWABLE = 'Auto-Renewable Subscription';

/**
 * An auto-renewable purchase whose stored period has ended while nothing signed after
 * that end has reached us: a renewal (or its failure) may simply not have been notified
 * yet, so it is worth asking the App Store before saying "expired".
 */
export function periodEndedUnheard({ records, state }: EvaluatedPurchase, now: Date): boolean {
  const expires = state.expiresDate;
  if (state.productType !== AUTO_RENEWABLE || expires === null || state.revocationDate !== null) return false;
  if (now.getTime() < expires.getTime()) return false;
  const latestSigned = Math.max(
    ...records.transactions.map((t) => t.signedDate.getTime()),
    records.renewal?.signedDate.getTime() ?? 0,
    records.status?.statusSignedDate.getTime() ?? 0,
  );
  return latestSigned < expires.getTime();
}
