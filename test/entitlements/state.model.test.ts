import { describe, expect, it } from 'vitest';
import { parseIsoDuration } from '../../src/entitlements/iso-duration.js';
import type { PurchaseState } from '../../src/entitlements/state.model.js';
import { BILLING_RETRY_MAX_MS, evaluatePurchase, pickBest } from '../../src/entitlements/state.model.js';
import { mergeTransaction } from '../../src/purchases/merge.model.js';
import type { StoredTransaction } from '../../src/purchases/purchase-update.js';
import { appleStatus, at, BASIC, MONTHLY, period, renewal, transaction, YEARLY } from './records.js';

const SEASON = 'com.example.season';

const mergeAll = (records: StoredTransaction[]): StoredTransaction[] => {
  const byId = new Map<string, StoredTransaction>();
  for (const r of records) byId.set(r.transactionId, mergeTransaction(byId.get(r.transactionId), r));
  return [...byId.values()];
};

function evaluate(input: Parameters<typeof evaluatePurchase>[0]): PurchaseState {
  const state = evaluatePurchase(input);
  if (state === null) throw new Error('expected an entitlement');
  return state;
}

describe('evaluatePurchase for an auto-renewable subscription', () => {
  it('is active during a paid period and reports the renewal preferences', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal(),
      status: appleStatus(1, '2026-01-01T10:00:01Z'),
      now: at('2026-01-15T00:00:00Z'),
    });
    expect(state).toMatchObject({
      status: 'active',
      active: true,
      transactionId: period(1).transactionId,
      productId: MONTHLY,
      willRenew: true,
      autoRenewProductId: MONTHLY,
      gracePeriodExpiresDate: null,
      revocationDate: null,
    });
    expect(state.expiresDate).toEqual(at('2026-02-01T10:00:00Z'));
  });

  it('keeps access when an older period is refunded while a newer one is running', () => {
    const refundedFirst = period(1, { revocationDate: at('2026-02-10T00:00:00Z'), revocationReason: 0, signedDate: at('2026-02-10T00:00:01Z') });
    const state = evaluate({
      transactions: [refundedFirst, period(2)],
      renewal: renewal(),
      status: appleStatus(1, '2026-02-10T00:00:01Z'),
      now: at('2026-02-15T00:00:00Z'),
    });
    expect(state.status).toBe('active');
    expect(state.transactionId).toBe(period(2).transactionId);
    expect(state.revocationDate).toBeNull();
  });

  it('is revoked when the latest period is refunded and no other period still runs', () => {
    const refundedSecond = period(2, { revocationDate: at('2026-02-10T00:00:00Z'), revocationReason: 1, signedDate: at('2026-02-10T00:00:01Z') });
    const state = evaluate({
      transactions: [period(1), refundedSecond],
      renewal: renewal({ autoRenewStatus: 0, signedDate: at('2026-02-10T00:00:01Z') }),
      now: at('2026-02-15T00:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'revoked', active: false, transactionId: refundedSecond.transactionId });
    expect(state.revocationDate).toEqual(at('2026-02-10T00:00:00Z'));
  });

  it('lets an older period that still runs grant access when only a renewal charged ahead of it is refunded', () => {
    const chargedAhead = transaction({
      transactionId: '2000000000000002',
      purchaseDate: at('2026-01-31T12:00:00Z'),
      expiresDate: at('2026-03-01T10:00:00Z'),
      revocationDate: at('2026-01-31T15:00:00Z'),
      signedDate: at('2026-01-31T15:00:01Z'),
    });
    const during = evaluate({ transactions: [period(1), chargedAhead], now: at('2026-01-31T20:00:00Z') });
    expect(during).toMatchObject({ status: 'active', transactionId: period(1).transactionId });
    const after = evaluate({ transactions: [period(1), chargedAhead], now: at('2026-02-02T00:00:00Z') });
    expect(after).toMatchObject({ status: 'revoked', transactionId: chargedAhead.transactionId });
  });

  it('is in grace period after a failed renewal until gracePeriodExpiresDate, and active meanwhile', () => {
    const input = {
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: at('2026-02-17T10:00:00Z'), signedDate: at('2026-02-01T10:00:05Z') }),
      status: appleStatus(4, '2026-02-01T10:00:05Z'),
    };
    const state = evaluate({ ...input, now: at('2026-02-05T00:00:00Z') });
    expect(state).toMatchObject({ status: 'grace_period', active: true });
    expect(state.gracePeriodExpiresDate).toEqual(at('2026-02-17T10:00:00Z'));
  });

  it('falls to billing retry, not active, once the grace period has ended without a renewal', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: at('2026-02-17T10:00:00Z'), signedDate: at('2026-02-01T10:00:05Z') }),
      status: appleStatus(4, '2026-02-01T10:00:05Z'),
      now: at('2026-02-20T00:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'billing_retry', active: false });
    expect(state.gracePeriodExpiresDate).toEqual(at('2026-02-17T10:00:00Z'));
  });

  it('is in billing retry, not active, when renewal failed without a grace period', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: true, signedDate: at('2026-02-01T10:00:05Z') }),
      status: appleStatus(3, '2026-02-01T10:00:05Z'),
      now: at('2026-02-05T00:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'billing_retry', active: false, gracePeriodExpiresDate: null });
  });

  it('trusts Apple saying the grace period is over even if the renewal date has not passed on our clock', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: at('2026-02-17T10:00:00Z'), signedDate: at('2026-02-01T10:00:05Z') }),
      status: appleStatus(3, '2026-02-17T09:59:00Z'),
      now: at('2026-02-17T09:59:30Z'),
    });
    expect(state.status).toBe('billing_retry');
  });

  it('is expired once billing has been retried longer than Apple ever retries', () => {
    const expires = period(1).expiresDate as Date;
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: true, signedDate: at('2026-02-01T10:00:05Z') }),
      status: appleStatus(3, '2026-02-01T10:00:05Z'),
      now: new Date(expires.getTime() + BILLING_RETRY_MAX_MS),
    });
    expect(state.status).toBe('expired');
  });

  it('is expired after the period ends even when the last status Apple sent said active', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal(),
      status: appleStatus(1, '2026-01-01T10:00:01Z'),
      now: at('2026-02-01T10:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'expired', active: false, willRenew: true });
  });

  it('is expired when a newer EXPIRED status overrides older renewal info still flagged as retrying', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: true, signedDate: at('2026-02-01T10:00:05Z') }),
      status: appleStatus(2, '2026-03-01T00:00:00Z'),
      now: at('2026-03-02T00:00:00Z'),
    });
    expect(state.status).toBe('expired');
  });

  it('is expired when newer renewal info says billing is no longer retried despite an older grace status', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: false, gracePeriodExpiresDate: at('2026-02-17T10:00:00Z'), signedDate: at('2026-02-03T00:00:00Z') }),
      status: appleStatus(4, '2026-02-01T10:00:05Z'),
      now: at('2026-02-05T00:00:00Z'),
    });
    expect(state.status).toBe('expired');
  });

  it('stays active until expiry when auto-renew is off, then expires', () => {
    const input = {
      transactions: [period(1)],
      renewal: renewal({ autoRenewStatus: 0, signedDate: at('2026-01-10T00:00:00Z') }),
      status: appleStatus(1, '2026-01-10T00:00:00Z'),
    };
    expect(evaluate({ ...input, now: at('2026-01-31T00:00:00Z') })).toMatchObject({ status: 'active', willRenew: false });
    expect(evaluate({ ...input, now: at('2026-02-01T10:00:01Z') })).toMatchObject({ status: 'expired', willRenew: false });
  });

  it('reports no renewal preference when no renewal info is known', () => {
    const state = evaluate({ transactions: [period(1)], now: at('2026-01-02T00:00:00Z') });
    expect(state).toMatchObject({ willRenew: null, autoRenewProductId: null });
  });

  it('makes the new product current after an upgrade and ignores the upgraded transaction', () => {
    const upgraded = period(1, { productId: BASIC, isUpgraded: true, signedDate: at('2026-01-15T10:00:01Z') });
    const upgrade = transaction({
      transactionId: '2000000000000009',
      productId: YEARLY,
      purchaseDate: at('2026-01-15T10:00:00Z'),
      expiresDate: at('2027-01-15T10:00:00Z'),
      signedDate: at('2026-01-15T10:00:01Z'),
    });
    const state = evaluate({
      transactions: [upgraded, upgrade],
      renewal: renewal({ productId: YEARLY, autoRenewProductId: YEARLY, signedDate: at('2026-01-15T10:00:01Z') }),
      now: at('2026-03-01T00:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'active', productId: YEARLY, transactionId: upgrade.transactionId });
  });

  it('does not let an upgraded transaction grant access after the upgrade is refunded', () => {
    const upgraded = period(1, { productId: BASIC, isUpgraded: true, signedDate: at('2026-01-15T10:00:01Z') });
    const refundedUpgrade = transaction({
      transactionId: '2000000000000009',
      productId: YEARLY,
      purchaseDate: at('2026-01-15T10:00:00Z'),
      expiresDate: at('2027-01-15T10:00:00Z'),
      revocationDate: at('2026-01-20T00:00:00Z'),
      signedDate: at('2026-01-20T00:00:01Z'),
    });
    const state = evaluate({ transactions: [upgraded, refundedUpgrade], now: at('2026-01-25T00:00:00Z') });
    expect(state).toMatchObject({ status: 'revoked', productId: YEARLY });
  });

  it('still reports the purchase from an upgraded transaction while the upgrade itself has not arrived', () => {
    const upgraded = period(1, { productId: BASIC, isUpgraded: true });
    const state = evaluate({ transactions: [upgraded], now: at('2026-01-20T00:00:00Z') });
    expect(state).toMatchObject({ productId: BASIC, status: 'active' });
  });

  it('keeps the current product until expiry after a downgrade and reports the product it renews into', () => {
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ autoRenewProductId: BASIC, signedDate: at('2026-01-10T00:00:00Z') }),
      now: at('2026-01-20T00:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'active', productId: MONTHLY, autoRenewProductId: BASIC, willRenew: true });
  });

  it('restores access when REFUND_REVERSED brings a newer transaction without revocation, in either order', () => {
    const refunded = period(1, { revocationDate: at('2026-01-10T00:00:00Z'), revocationReason: 0, signedDate: at('2026-01-10T00:00:01Z') });
    const reversed = period(1, { signedDate: at('2026-01-12T00:00:01Z') });
    for (const arrivals of [
      [refunded, reversed],
      [reversed, refunded],
    ]) {
      const state = evaluate({ transactions: mergeAll(arrivals), now: at('2026-01-20T00:00:00Z') });
      expect(state).toMatchObject({ status: 'active', revocationDate: null });
    }
  });

  it('uses the new expiresDate after RENEWAL_EXTENDED, in either order', () => {
    const extended = period(1, { expiresDate: at('2026-02-08T10:00:00Z'), signedDate: at('2026-01-20T00:00:00Z') });
    for (const arrivals of [
      [period(1), extended],
      [extended, period(1)],
    ]) {
      const state = evaluate({
        transactions: mergeAll(arrivals),
        status: appleStatus(1, '2026-01-20T00:00:00Z'),
        now: at('2026-02-05T00:00:00Z'),
      });
      expect(state.status).toBe('active');
      expect(state.expiresDate).toEqual(at('2026-02-08T10:00:00Z'));
    }
  });

  it('is revoked by Apple status 5 from a family-sharing REVOKE', () => {
    const shared = period(1, {
      ownershipType: 'FAMILY_SHARED',
      revocationDate: at('2026-01-10T00:00:00Z'),
      revocationReason: 0,
      signedDate: at('2026-01-10T00:00:01Z'),
    });
    const state = evaluate({ transactions: [shared], status: appleStatus(5, '2026-01-10T00:00:01Z'), now: at('2026-01-11T00:00:00Z') });
    expect(state).toMatchObject({ status: 'revoked', active: false, ownershipType: 'FAMILY_SHARED' });
  });

  it('is revoked by a family-sharing REVOKE status even before the revoked transaction arrives', () => {
    const shared = period(1, { ownershipType: 'FAMILY_SHARED' });
    const state = evaluate({ transactions: [shared], status: appleStatus(5, '2026-01-10T00:00:01Z'), now: at('2026-01-11T00:00:00Z') });
    expect(state.status).toBe('revoked');
  });

  it('ignores an Apple status signed before the current period began', () => {
    const state = evaluate({
      transactions: [period(1), period(3)],
      status: appleStatus(5, '2026-01-10T00:00:00Z'),
      now: at('2026-03-10T00:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'active', transactionId: period(3).transactionId });
  });

  it('does not let a refund’s status 5 revoke a paid period that started within the day after it', () => {
    // Period 1 is refunded; an hour later the customer subscribes again (the app posts the
    // new transaction before Apple's SUBSCRIBED arrives). A refund cannot precede what it refunds.
    const refunded = period(1, { revocationDate: at('2026-01-10T00:00:00Z'), signedDate: at('2026-01-10T00:00:01Z') });
    const resubscribed = transaction({
      transactionId: '2000000000000009',
      purchaseDate: at('2026-01-10T01:00:00Z'),
      expiresDate: at('2026-02-10T01:00:00Z'),
      signedDate: at('2026-01-10T01:00:01Z'),
    });
    const state = evaluate({
      transactions: [refunded, resubscribed],
      renewal: renewal({ autoRenewStatus: 0, signedDate: at('2026-01-10T00:00:01Z') }),
      status: appleStatus(5, '2026-01-10T00:00:01Z'),
      now: at('2026-01-10T02:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'active', active: true, transactionId: '2000000000000009', revocationDate: null });
  });

  it('still revokes on a status 5 signed after the current period began', () => {
    const state = evaluate({ transactions: [period(1)], status: appleStatus(5, '2026-01-01T10:00:02Z'), now: at('2026-01-02T00:00:00Z') });
    expect(state.status).toBe('revoked');
  });

  it('does not let the status 5 of a refunded renewal charged ahead end the older period that still runs', () => {
    const chargedAhead = transaction({
      transactionId: '2000000000000002',
      purchaseDate: at('2026-01-31T12:00:00Z'),
      expiresDate: at('2026-03-01T10:00:00Z'),
      revocationDate: at('2026-01-31T15:00:00Z'),
      signedDate: at('2026-01-31T15:00:01Z'),
    });
    const status = appleStatus(5, '2026-01-31T15:00:01Z');
    const during = evaluate({ transactions: [period(1), chargedAhead], status, now: at('2026-01-31T20:00:00Z') });
    expect(during).toMatchObject({ status: 'active', transactionId: period(1).transactionId });
    const after = evaluate({ transactions: [period(1), chargedAhead], status, now: at('2026-02-02T00:00:00Z') });
    expect(after).toMatchObject({ status: 'revoked', transactionId: chargedAhead.transactionId });
  });

  it('does not call a period that began after auto-renew was turned off one that will not renew', () => {
    // Renewal info signed before this period says auto-renew was off; a renewal happened
    // since, so that no longer describes it. Nothing newer says what it is now.
    const state = evaluate({
      transactions: [period(1), period(3)],
      renewal: renewal({ autoRenewStatus: 0, autoRenewProductId: YEARLY, signedDate: at('2026-01-10T00:00:00Z') }),
      now: at('2026-03-05T00:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'active', willRenew: null, autoRenewProductId: null });
  });

  it('does not take auto-renew off from a refund an hour before a new purchase as the new period’s', () => {
    const refunded = period(1, { revocationDate: at('2026-01-10T00:00:00Z'), signedDate: at('2026-01-10T00:00:01Z') });
    const resubscribed = transaction({
      transactionId: '2000000000000009',
      purchaseDate: at('2026-01-10T01:00:00Z'),
      expiresDate: at('2026-02-10T01:00:00Z'),
      signedDate: at('2026-01-10T01:00:01Z'),
    });
    const state = evaluate({
      transactions: [refunded, resubscribed],
      renewal: renewal({ autoRenewStatus: 0, signedDate: at('2026-01-10T00:00:01Z') }),
      now: at('2026-01-10T02:00:00Z'),
    });
    expect(state).toMatchObject({ status: 'active', willRenew: null, autoRenewProductId: null });
  });

  it('keeps renewal info signed within the day before a renewal charged ahead, product change included', () => {
    const state = evaluate({
      transactions: [period(1), period(2)],
      renewal: renewal({ autoRenewStatus: 1, autoRenewProductId: YEARLY, signedDate: at('2026-01-31T12:00:00Z') }),
      now: at('2026-02-05T00:00:00Z'),
    });
    expect(state).toMatchObject({ willRenew: true, autoRenewProductId: YEARLY });
  });

  it('keeps willRenew true from renewal info signed before the period, as the renewal itself confirms it', () => {
    const state = evaluate({
      transactions: [period(1), period(3)],
      renewal: renewal({ autoRenewStatus: 1, autoRenewProductId: MONTHLY, signedDate: at('2026-01-10T00:00:00Z') }),
      now: at('2026-03-05T00:00:00Z'),
    });
    expect(state).toMatchObject({ willRenew: true, autoRenewProductId: MONTHLY });
  });

  it('counts status and renewal info signed shortly before the period they announce began', () => {
    // Real Sandbox DID_RENEW notifications are signed before the new transaction's purchaseDate.
    const state = evaluate({
      transactions: [period(1)],
      renewal: renewal({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: at('2026-02-17T10:00:00Z'), signedDate: at('2026-01-01T09:59:00Z') }),
      status: appleStatus(4, '2026-01-01T09:59:00Z'),
      now: at('2026-02-05T00:00:00Z'),
    });
    expect(state.status).toBe('grace_period');
  });

  it('ignores a billing-retry flag from renewal info about an earlier lapse', () => {
    const state = evaluate({
      transactions: [period(1), period(2)],
      renewal: renewal({ isInBillingRetryPeriod: true, signedDate: at('2026-01-05T00:00:00Z') }),
      now: at('2026-03-05T00:00:00Z'),
    });
    expect(state.status).toBe('expired');
  });

  it('gives the same answer whatever order the transactions are listed in', () => {
    const list = [period(1), period(2, { revocationDate: at('2026-02-03T00:00:00Z') }), period(3)];
    const now = at('2026-03-05T00:00:00Z');
    const forward = evaluate({ transactions: list, now });
    const backward = evaluate({ transactions: [...list].reverse(), now });
    expect(backward).toEqual(forward);
  });

  it('takes originalPurchaseDate from the transaction, else from the earliest known purchase', () => {
    const withDate = evaluate({ transactions: [period(2, { originalPurchaseDate: at('2025-06-01T00:00:00Z') })], now: at('2026-02-02T00:00:00Z') });
    expect(withDate.originalPurchaseDate).toEqual(at('2025-06-01T00:00:00Z'));
    const without = evaluate({
      transactions: [period(1, { originalPurchaseDate: null }), period(2, { originalPurchaseDate: null })],
      now: at('2026-02-02T00:00:00Z'),
    });
    expect(without.originalPurchaseDate).toEqual(period(1).purchaseDate);
  });
});

describe('evaluatePurchase for other product types', () => {
  const lifetime = transaction({ productType: 'Non-Consumable', productId: 'com.example.lifetime', expiresDate: null });

  it('keeps a non-consumable active with no expiry until it is revoked', () => {
    const state = evaluate({ transactions: [lifetime], now: at('2036-01-01T00:00:00Z') });
    expect(state).toMatchObject({ status: 'active', active: true, expiresDate: null, willRenew: null, autoRenewProductId: null });
    const refunded = { ...lifetime, revocationDate: at('2026-03-01T00:00:00Z'), signedDate: at('2026-03-01T00:00:01Z') };
    expect(evaluate({ transactions: [refunded], now: at('2026-03-02T00:00:00Z') }).status).toBe('revoked');
  });

  it('revokes a family-shared non-consumable on REVOKE status', () => {
    const shared = { ...lifetime, ownershipType: 'FAMILY_SHARED' };
    const state = evaluate({ transactions: [shared], status: appleStatus(5, '2026-03-01T00:00:00Z'), now: at('2026-03-02T00:00:00Z') });
    expect(state.status).toBe('revoked');
  });

  it('follows the expiresDate of a non-renewing subscription', () => {
    const season = transaction({ productType: 'Non-Renewing Subscription', productId: 'com.example.season', expiresDate: at('2026-06-01T00:00:00Z') });
    expect(evaluate({ transactions: [season], now: at('2026-05-31T23:59:59Z') }).status).toBe('active');
    expect(evaluate({ transactions: [season], now: at('2026-06-01T00:00:00Z') }).status).toBe('expired');
  });

  it('keeps a non-renewing subscription without dates active until revoked', () => {
    const open = transaction({ productType: 'Non-Renewing Subscription', productId: 'com.example.season', expiresDate: null });
    expect(evaluate({ transactions: [open], now: at('2030-01-01T00:00:00Z') }).status).toBe('active');
    const revoked = { ...open, revocationDate: at('2026-02-01T00:00:00Z') };
    expect(evaluate({ transactions: [revoked], now: at('2030-01-01T00:00:00Z') }).status).toBe('revoked');
  });

  it('ends a non-renewing subscription at purchaseDate + the catalog duration, as Apple sends no expiresDate', () => {
    const season = transaction({ productType: 'Non-Renewing Subscription', productId: SEASON, purchaseDate: at('2026-01-31T10:00:00Z'), expiresDate: null });
    const durationOf = (productId: string) => (productId === SEASON ? parseIsoDuration('P1M') : null);
    const during = evaluate({ transactions: [season], durationOf, now: at('2026-02-28T09:59:59Z') });
    expect(during).toMatchObject({ status: 'active', active: true, expiresDate: at('2026-02-28T10:00:00Z'), willRenew: null });
    const after = evaluate({ transactions: [season], durationOf, now: at('2026-02-28T10:00:00Z') });
    expect(after).toMatchObject({ status: 'expired', active: false, expiresDate: at('2026-02-28T10:00:00Z') });
  });

  it('judges a second non-renewing purchase of one season pass on its own period', () => {
    const durationOf = () => parseIsoDuration('P7D');
    const first = transaction({
      productType: 'Non-Renewing Subscription',
      productId: SEASON,
      transactionId: '1',
      originalTransactionId: '1',
      purchaseDate: at('2026-01-01T00:00:00Z'),
      expiresDate: null,
    });
    expect(evaluate({ transactions: [first], durationOf, now: at('2026-01-09T00:00:00Z') }).status).toBe('expired');
    const refunded = { ...first, revocationDate: at('2026-01-02T00:00:00Z') };
    expect(evaluate({ transactions: [refunded], durationOf, now: at('2026-01-03T00:00:00Z') }).status).toBe('revoked');
  });

  it('leaves a non-renewing subscription without a catalog duration active with expiresDate null', () => {
    const season = transaction({ productType: 'Non-Renewing Subscription', productId: SEASON, expiresDate: null });
    const state = evaluate({ transactions: [season], durationOf: () => null, now: at('2030-01-01T00:00:00Z') });
    expect(state).toMatchObject({ status: 'active', expiresDate: null });
  });

  it('does not give a catalog duration to other product types', () => {
    const lifetimeWithDuration = evaluate({ transactions: [lifetime], durationOf: () => parseIsoDuration('P1M'), now: at('2036-01-01T00:00:00Z') });
    expect(lifetimeWithDuration).toMatchObject({ status: 'active', expiresDate: null });
  });

  it('treats a consumable as no entitlement', () => {
    const coins = transaction({ productType: 'Consumable', productId: 'com.example.coins', expiresDate: null });
    expect(evaluatePurchase({ transactions: [coins], now: at('2026-01-02T00:00:00Z') })).toBeNull();
  });

  it('has nothing to evaluate without transactions', () => {
    expect(evaluatePurchase({ transactions: [], renewal: renewal(), now: at('2026-01-02T00:00:00Z') })).toBeNull();
  });
});

describe('pickBest', () => {
  const now = at('2026-01-20T00:00:00Z');
  const state = (t: StoredTransaction) => evaluate({ transactions: [t], now });
  const monthly = state(period(1, { originalTransactionId: 'a' }));
  const yearly = state(transaction({ originalTransactionId: 'b', productId: YEARLY, expiresDate: at('2027-01-01T10:00:00Z') }));
  const expired = state(transaction({ originalTransactionId: 'c', expiresDate: at('2026-01-10T00:00:00Z') }));
  const lifetime = state(transaction({ originalTransactionId: 'd', productType: 'Non-Consumable', expiresDate: null }));
  const laterPurchase = state(period(1, { originalTransactionId: 'e', purchaseDate: at('2026-01-05T00:00:00Z') }));

  it('prefers an active purchase over an inactive one', () => {
    expect(pickBest(expired, monthly)).toBe(monthly);
    expect(pickBest(monthly, expired)).toBe(monthly);
  });

  it('prefers the later expiry among active purchases, and no expiry over any', () => {
    expect(pickBest(monthly, yearly)).toBe(yearly);
    expect(pickBest(yearly, lifetime)).toBe(lifetime);
  });

  it('prefers the later purchase when expiry is equal', () => {
    expect(pickBest(monthly, laterPurchase)).toBe(laterPurchase);
    expect(pickBest(laterPurchase, monthly)).toBe(laterPurchase);
  });

  it('prefers a Production purchase over a Sandbox one of the same activity, even one that expires later', () => {
    const sandboxYearly = state(
      transaction({ originalTransactionId: 'f', productId: YEARLY, environment: 'Sandbox', expiresDate: at('2027-01-01T10:00:00Z') }),
    );
    const sandboxLifetime = state(transaction({ originalTransactionId: 'g', productType: 'Non-Consumable', environment: 'Sandbox', expiresDate: null }));
    expect(pickBest(monthly, sandboxYearly)).toBe(monthly);
    expect(pickBest(sandboxYearly, monthly)).toBe(monthly);
    expect(pickBest(sandboxLifetime, monthly)).toBe(monthly);
    const sandboxExpired = state(transaction({ originalTransactionId: 'h', environment: 'Sandbox', expiresDate: at('2026-01-15T00:00:00Z') }));
    expect(pickBest(sandboxExpired, expired)).toBe(expired);
  });

  it('still prefers an active Sandbox purchase over an inactive Production one', () => {
    const sandboxActive = state(transaction({ originalTransactionId: 'i', environment: 'Sandbox', expiresDate: at('2026-02-01T10:00:00Z') }));
    expect(pickBest(expired, sandboxActive)).toBe(sandboxActive);
    expect(pickBest(sandboxActive, expired)).toBe(sandboxActive);
  });

  it('chooses the same purchase whatever the argument order when everything else is equal', () => {
    const twin = state(period(1, { originalTransactionId: 'z' }));
    expect(pickBest(monthly, twin)).toBe(pickBest(twin, monthly));
  });
});
