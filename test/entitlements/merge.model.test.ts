import { describe, expect, it } from 'vitest';
import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '../../src/apple/types.js';
import {
  InvalidRecordError,
  mergeRenewal,
  mergeStatus,
  mergeTransaction,
  renewalFromPayload,
  transactionFromPayload,
} from '../../src/purchases/merge.model.js';
import { appleStatus, at, period, renewal } from './records.js';

const transactionPayload: JWSTransactionDecodedPayload = {
  originalTransactionId: '2000000000000001',
  transactionId: '2000000000000007',
  webOrderLineItemId: '2000000099999999',
  bundleId: 'com.example.app',
  productId: 'com.example.pro.monthly',
  subscriptionGroupIdentifier: '21000001',
  purchaseDate: 1_793_527_200_000,
  originalPurchaseDate: 1_777_629_600_000,
  expiresDate: 1_796_119_200_000,
  quantity: 1,
  type: 'Auto-Renewable Subscription',
  appAccountToken: '7E3FB20B-4CDB-47CC-936D-99D65F608138',
  inAppOwnershipType: 'PURCHASED',
  signedDate: 1_793_527_205_000,
  environment: 'Production',
  storefront: 'USA',
  storefrontId: '143441',
  transactionReason: 'RENEWAL',
  currency: 'USD',
  price: 4990,
};

describe('transactionFromPayload', () => {
  it('keeps every field entitlements and the transaction list need, with dates as Date and absent values as null', () => {
    expect(transactionFromPayload(transactionPayload, 'v2')).toEqual({
      transactionId: '2000000000000007',
      originalTransactionId: '2000000000000001',
      webOrderLineItemId: '2000000099999999',
      bundleId: 'com.example.app',
      productId: 'com.example.pro.monthly',
      subscriptionGroupIdentifier: '21000001',
      productType: 'Auto-Renewable Subscription',
      environment: 'Production',
      purchaseDate: new Date(1_793_527_200_000),
      originalPurchaseDate: new Date(1_777_629_600_000),
      expiresDate: new Date(1_796_119_200_000),
      quantity: 1,
      ownershipType: 'PURCHASED',
      revocationDate: null,
      revocationReason: null,
      isUpgraded: false,
      offerType: null,
      offerIdentifier: null,
      appAccountToken: '7e3fb20b-4cdb-47cc-936d-99d65f608138',
      storefront: 'USA',
      transactionReason: 'RENEWAL',
      price: 4990,
      currency: 'USD',
      offerDiscountType: null,
      offerPeriod: null,
      revocationType: null,
      revocationPercentage: null,
      appTransactionId: null,
      signedDate: new Date(1_793_527_205_000),
      source: 'v2',
    });
  });

  it("keeps the offer's discount type and period, the refund's type and share, and the appTransactionId", () => {
    const record = transactionFromPayload({
      ...transactionPayload,
      offerType: 1,
      offerDiscountType: 'PAY_UP_FRONT',
      offerPeriod: 'P3M',
      revocationDate: 1_794_000_000_000,
      revocationType: 'REFUND_PRORATED',
      revocationPercentage: 25_000,
      appTransactionId: '704289572311136189',
    });
    expect(record).toMatchObject({
      offerType: 1,
      offerDiscountType: 'PAY_UP_FRONT',
      offerPeriod: 'P3M',
      revocationType: 'REFUND_PRORATED',
      revocationPercentage: 25_000,
      appTransactionId: '704289572311136189',
    });
  });

  it('records revocation and upgrade facts', () => {
    const record = transactionFromPayload({
      ...transactionPayload,
      revocationDate: 1_794_000_000_000,
      revocationReason: 1,
      isUpgraded: true,
    });
    expect(record).toMatchObject({ revocationDate: new Date(1_794_000_000_000), revocationReason: 1, isUpgraded: true });
    expect(record).not.toHaveProperty('source');
  });

  it('drops an appAccountToken that is not a UUID instead of failing', () => {
    expect(transactionFromPayload({ ...transactionPayload, appAccountToken: 'user-42' }).appAccountToken).toBeNull();
  });

  it('rejects a payload whose dates are not timestamps with a stable code', () => {
    const bad = { ...transactionPayload, purchaseDate: Number.NaN };
    expect(() => transactionFromPayload(bad)).toThrow(InvalidRecordError);
    try {
      transactionFromPayload(bad);
    } catch (error) {
      expect((error as InvalidRecordError).code).toBe('INVALID_SIGNED_DATA');
    }
  });
});

describe('renewalFromPayload', () => {
  it('keeps the renewal preferences and billing state', () => {
    const payload: JWSRenewalInfoDecodedPayload = {
      originalTransactionId: '2000000000000001',
      autoRenewProductId: 'com.example.basic.monthly',
      productId: 'com.example.pro.monthly',
      autoRenewStatus: 0,
      expirationIntent: 1,
      isInBillingRetryPeriod: true,
      gracePeriodExpiresDate: 1_796_000_000_000,
      renewalDate: 1_796_119_200_000,
      priceIncreaseStatus: 0,
      signedDate: 1_795_000_000_000,
      environment: 'Sandbox',
      renewalPrice: 12_990,
      currency: 'EUR',
      offerType: 4,
      offerIdentifier: 'come-back',
      offerDiscountType: 'PAY_AS_YOU_GO',
      offerPeriod: 'P1M',
      eligibleWinBackOfferIds: ['come-back', 'come-back-2'],
      appTransactionId: '704289572311136189',
    };
    expect(renewalFromPayload(payload, 'api')).toEqual({
      originalTransactionId: '2000000000000001',
      productId: 'com.example.pro.monthly',
      autoRenewProductId: 'com.example.basic.monthly',
      autoRenewStatus: 0,
      expirationIntent: 1,
      isInBillingRetryPeriod: true,
      gracePeriodExpiresDate: new Date(1_796_000_000_000),
      renewalDate: new Date(1_796_119_200_000),
      priceIncreaseStatus: 0,
      renewalPrice: 12_990,
      renewalCurrency: 'EUR',
      offerType: 4,
      offerIdentifier: 'come-back',
      offerDiscountType: 'PAY_AS_YOU_GO',
      offerPeriod: 'P1M',
      eligibleWinBackOfferIds: ['come-back', 'come-back-2'],
      appTransactionId: '704289572311136189',
      signedDate: new Date(1_795_000_000_000),
      environment: 'Sandbox',
      source: 'api',
    });
  });

  it('uses null for everything Apple left out', () => {
    const record = renewalFromPayload({ originalTransactionId: '1', productId: 'p', signedDate: 1, environment: 'Sandbox' });
    expect(record).toMatchObject({
      autoRenewProductId: null,
      autoRenewStatus: null,
      expirationIntent: null,
      isInBillingRetryPeriod: null,
      gracePeriodExpiresDate: null,
      renewalDate: null,
      priceIncreaseStatus: null,
      renewalPrice: null,
      renewalCurrency: null,
      offerType: null,
      offerIdentifier: null,
      offerDiscountType: null,
      offerPeriod: null,
      eligibleWinBackOfferIds: null,
      appTransactionId: null,
    });
  });
});

describe('mergeTransaction', () => {
  const refunded = period(1, { revocationDate: at('2026-01-10T00:00:00Z'), signedDate: at('2026-01-10T00:00:01Z') });

  it('takes the incoming record when nothing is stored yet', () => {
    expect(mergeTransaction(undefined, refunded)).toBe(refunded);
  });

  it('lets the newer signedDate win whichever arrives first', () => {
    expect(mergeTransaction(period(1), refunded)).toBe(refunded);
    const older = period(1);
    expect(mergeTransaction(refunded, older)).toBe(refunded);
  });

  it('keeps the stored record when the same record arrives again', () => {
    const stored = period(1);
    expect(mergeTransaction(stored, period(1))).toBe(stored);
  });

  it('resolves two different records signed in the same millisecond the same way in both orders', () => {
    const a = period(1, { expiresDate: at('2026-02-01T10:00:00Z') });
    const b = period(1, { expiresDate: at('2026-02-08T10:00:00Z') });
    const ab = mergeTransaction(a, b);
    const ba = mergeTransaction(b, a);
    expect(ab).toEqual(ba);
  });

  it('treats a redelivery as a no-op even when the stored row carries database columns', () => {
    const storedRow = { ...period(1), updatedAt: at('2026-01-01T10:00:05Z'), signedTransaction: 'eyJ...' };
    expect(mergeTransaction(storedRow, period(1))).toBe(storedRow);
  });

  it('resolves the same JWS stored from two sources the same way in both orders', () => {
    const fromWebhook = { ...period(1), source: 'v2' as const };
    const fromApi = { ...period(1), source: 'api' as const };
    expect(mergeTransaction(fromWebhook, fromApi)).toEqual(mergeTransaction(fromApi, fromWebhook));
  });
});

describe('mergeRenewal', () => {
  const off = renewal({ autoRenewStatus: 0, signedDate: at('2026-01-10T00:00:00Z') });

  it('replaces renewal info only with renewal info signed later', () => {
    expect(mergeRenewal(renewal(), off)).toBe(off);
    expect(mergeRenewal(off, renewal())).toBe(off);
    expect(mergeRenewal(undefined, off)).toBe(off);
  });

  it('resolves a tie in signedDate the same way in both orders', () => {
    const on = renewal({ signedDate: off.signedDate });
    expect(mergeRenewal(on, off)).toEqual(mergeRenewal(off, on));
  });
});

describe('mergeStatus', () => {
  it('takes the status of the newer notification whichever arrives first', () => {
    const active = appleStatus(1, '2026-01-01T00:00:00Z');
    const expired = appleStatus(2, '2026-02-01T00:00:00Z');
    expect(mergeStatus(active, expired)).toBe(expired);
    expect(mergeStatus(expired, active)).toBe(expired);
    expect(mergeStatus(undefined, active)).toBe(active);
  });

  it('never lets a status that says nothing overwrite one that says something', () => {
    const known = appleStatus(4, '2026-02-01T00:00:00Z');
    const silent = appleStatus(null, '2026-03-01T00:00:00Z');
    expect(mergeStatus(known, silent)).toBe(known);
    expect(mergeStatus(silent, known)).toBe(known);
  });

  it('resolves two statuses from the same millisecond the same way in both orders', () => {
    const three = appleStatus(3, '2026-02-01T00:00:00Z');
    const four = appleStatus(4, '2026-02-01T00:00:00Z');
    expect(mergeStatus(three, four)).toEqual(mergeStatus(four, three));
  });
});
