import type { StoredRenewal, StoredStatus, StoredTransaction } from '../../src/purchases/purchase-update.js';
import { TEST_BUNDLE_ID } from '../helpers/constants.js';

// Builders for stored records of one monthly subscription; tests override only what
// their rule is about.

export const ORIGINAL_ID = '2000000000000001';
export const MONTHLY = 'com.example.pro.monthly';
export const YEARLY = 'com.example.pro.yearly';
export const BASIC = 'com.example.basic.monthly';

export const at = (iso: string) => new Date(iso);

export function transaction(overrides: Partial<StoredTransaction> = {}): StoredTransaction {
  return {
    transactionId: '2000000000000001',
    originalTransactionId: ORIGINAL_ID,
    webOrderLineItemId: null,
    bundleId: TEST_BUNDLE_ID,
    productId: MONTHLY,
    subscriptionGroupIdentifier: '21000001',
    productType: 'Auto-Renewable Subscription',
    environment: 'Production',
    purchaseDate: at('2026-01-01T10:00:00Z'),
    originalPurchaseDate: at('2026-01-01T10:00:00Z'),
    expiresDate: at('2026-02-01T10:00:00Z'),
    quantity: 1,
    ownershipType: 'PURCHASED',
    revocationDate: null,
    revocationReason: null,
    isUpgraded: false,
    offerType: null,
    offerIdentifier: null,
    appAccountToken: null,
    storefront: 'USA',
    transactionReason: 'PURCHASE',
    price: 4990,
    currency: 'USD',
    offerDiscountType: null,
    offerPeriod: null,
    revocationType: null,
    revocationPercentage: null,
    appTransactionId: null,
    signedDate: at('2026-01-01T10:00:01Z'),
    ...overrides,
  };
}

/** The n-th monthly period (1-based) starting 2026-01-01, signed a second after it starts. */
export function period(n: number, overrides: Partial<StoredTransaction> = {}): StoredTransaction {
  const start = new Date(Date.UTC(2026, n - 1, 1, 10));
  const end = new Date(Date.UTC(2026, n, 1, 10));
  return transaction({
    transactionId: String(2000000000000000 + n),
    purchaseDate: start,
    expiresDate: end,
    transactionReason: n === 1 ? 'PURCHASE' : 'RENEWAL',
    signedDate: new Date(start.getTime() + 1000),
    ...overrides,
  });
}

export function renewal(overrides: Partial<StoredRenewal> = {}): StoredRenewal {
  return {
    originalTransactionId: ORIGINAL_ID,
    productId: MONTHLY,
    autoRenewProductId: MONTHLY,
    autoRenewStatus: 1,
    expirationIntent: null,
    isInBillingRetryPeriod: false,
    gracePeriodExpiresDate: null,
    renewalDate: at('2026-02-01T10:00:00Z'),
    priceIncreaseStatus: null,
    renewalPrice: 4990,
    renewalCurrency: 'USD',
    offerType: null,
    offerIdentifier: null,
    offerDiscountType: null,
    offerPeriod: null,
    eligibleWinBackOfferIds: null,
    appTransactionId: null,
    signedDate: at('2026-01-01T10:00:01Z'),
    environment: 'Production',
    ...overrides,
  };
}

export function appleStatus(value: number | null, signed: string | Date): StoredStatus {
  return {
    originalTransactionId: ORIGINAL_ID,
    appleStatus: value,
    statusSignedDate: typeof signed === 'string' ? at(signed) : signed,
  };
}
