import { describe, expect, it } from 'vitest';
import {
  type AnalyticsRecord,
  type AnalyticsSignals,
  addContributions,
  nonZero,
  purchaseAnalyticsRow,
  type RollupRow,
} from '../../src/purchases/analytics.model.js';

const at = (iso: string) => new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);

function record(overrides: Partial<AnalyticsRecord> & Pick<AnalyticsRecord, 'transactionId' | 'purchaseDate'>): AnalyticsRecord {
  return {
    originalTransactionId: 'o1',
    productId: 'monthly',
    productType: 'Auto-Renewable Subscription',
    environment: 'Production',
    originalPurchaseDate: null,
    expiresDate: null,
    revocationDate: null,
    revocationType: null,
    isUpgraded: false,
    offerType: null,
    offerDiscountType: null,
    price: 9990,
    currency: 'USD',
    ...overrides,
  };
}

const trial = record({
  transactionId: 'o1',
  purchaseDate: at('2026-05-01'),
  expiresDate: at('2026-05-08'),
  offerType: 1,
  offerDiscountType: 'FREE_TRIAL',
  price: 0,
});
const paid = record({ transactionId: 't2', purchaseDate: at('2026-05-08'), expiresDate: at('2026-06-08') });
const renewed = record({ transactionId: 't3', purchaseDate: at('2026-06-08'), expiresDate: at('2026-07-08') });

function rollup(records: AnalyticsRecord[]): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  addContributions(rows, records, 1);
  return nonZero(rows);
}

const only = (rows: RollupRow[], field: keyof RollupRow) => rows.filter((row) => row[field] !== 0).map((row) => [row.day, row[field]]);

describe('analytics contributions of one purchase', () => {
  it('count a new subscription, renewals, revenue and a trial conversion on their days', () => {
    const rows = rollup([renewed, trial, paid]);
    expect(only(rows, 'newSubscriptions')).toEqual([['2026-05-01', 1]]);
    expect(only(rows, 'renewals')).toEqual([
      ['2026-05-08', 1],
      ['2026-06-08', 1],
    ]);
    expect(only(rows, 'trialConversions')).toEqual([['2026-05-08', 1]]);
    expect(only(rows, 'revenue')).toEqual([
      ['2026-05-08', 9990],
      ['2026-06-08', 9990],
    ]);
    // Only the current period ends the subscription.
    expect(only(rows, 'expirations')).toEqual([['2026-07-08', 1]]);
  });

  it('cancel out exactly: what is added for a purchase is what is subtracted for it', () => {
    const rows = new Map<string, RollupRow>();
    addContributions(rows, [trial, paid], 1);
    addContributions(rows, [paid, trial], -1);
    expect(nonZero(rows)).toEqual([]);
  });

  it('count a refund on its day but not a family-sharing revocation, and no expiration for a refunded period', () => {
    const refunded = { ...paid, revocationDate: at('2026-05-20'), revocationType: 'REFUND_FULL' };
    expect(only(rollup([trial, refunded]), 'refunds')).toEqual([['2026-05-20', 1]]);
    expect(only(rollup([trial, refunded]), 'expirations')).toEqual([]);
    const familyRevoked = { ...paid, revocationDate: at('2026-05-20'), revocationType: 'FAMILY_REVOKE' };
    expect(only(rollup([trial, familyRevoked]), 'refunds')).toEqual([]);
  });

  it('count no conversion when a trial is followed by another trial, and nothing but revenue for a consumable', () => {
    const secondTrial = { ...paid, offerType: 1, offerDiscountType: 'FREE_TRIAL' };
    expect(only(rollup([trial, secondTrial]), 'trialConversions')).toEqual([]);
    const coins = record({ transactionId: 'c1', originalTransactionId: 'c1', productType: 'Consumable', purchaseDate: at('2026-05-15'), price: 1990 });
    const rows = rollup([coins]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ revenue: 1990, newSubscriptions: 0, renewals: 0 });
    expect(purchaseAnalyticsRow([coins], undefined)).toBeNull();
  });
});

describe('analytics state row of one purchase', () => {
  const lapsed = [trial, paid];
  const signals = (overrides: Partial<AnalyticsSignals>): AnalyticsSignals => ({
    appleStatus: null,
    statusSignedDate: null,
    renewalSignedDate: null,
    renewalProductId: 'monthly',
    isInBillingRetryPeriod: null,
    gracePeriodExpiresDate: null,
    ...overrides,
  });

  it('describe the current period, active until its end', () => {
    expect(purchaseAnalyticsRow([renewed, trial, paid], undefined)).toMatchObject({
      originalTransactionId: 'o1',
      purchaseDate: at('2026-06-08'),
      expiresDate: at('2026-07-08'),
      revoked: false,
      gracePeriodExpiresDate: null,
      activeUntil: at('2026-07-08'),
    });
    expect(purchaseAnalyticsRow([trial], undefined)).toMatchObject({ offerType: 1, offerDiscountType: 'FREE_TRIAL' });
  });

  it('run to the grace period end while Apple retries billing with one, the newer of status and renewal info speaking', () => {
    const grace = at('2026-06-20');
    const retrying = signals({ appleStatus: 4, statusSignedDate: at('2026-06-08T01:00:00Z'), gracePeriodExpiresDate: grace });
    expect(purchaseAnalyticsRow(lapsed, retrying)).toMatchObject({ gracePeriodExpiresDate: grace, activeUntil: grace });
    // Newer renewal info says billing is no longer retried: no grace.
    const recovered = { ...retrying, renewalSignedDate: at('2026-06-09'), isInBillingRetryPeriod: false };
    expect(purchaseAnalyticsRow(lapsed, recovered)).toMatchObject({ gracePeriodExpiresDate: null, activeUntil: at('2026-06-08') });
    // A status signed before the period began (minus a day) is about an earlier period.
    const stale = signals({ appleStatus: 4, statusSignedDate: at('2026-05-01'), gracePeriodExpiresDate: grace });
    expect(purchaseAnalyticsRow(lapsed, stale)).toMatchObject({ gracePeriodExpiresDate: null });
  });

  it('be revoked by the period’s revocation or by Apple’s status 5 signed in the period', () => {
    expect(purchaseAnalyticsRow([trial, { ...paid, revocationDate: at('2026-05-20') }], undefined)).toMatchObject({ revoked: true, activeUntil: null });
    expect(purchaseAnalyticsRow(lapsed, signals({ appleStatus: 5, statusSignedDate: at('2026-05-20') }))).toMatchObject({ revoked: true });
    expect(purchaseAnalyticsRow(lapsed, signals({ appleStatus: 5, statusSignedDate: at('2026-05-07') }))).toMatchObject({ revoked: false });
  });
});
