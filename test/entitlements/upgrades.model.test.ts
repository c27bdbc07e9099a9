import { describe, expect, it } from 'vitest';
import { normalizeV1Notification, parseV1Notification, type V1NotificationType } from '../../src/apple/v1/index.js';
import { evaluatePurchase, type PurchaseState } from '../../src/entitlements/state.model.js';
import { updatesFromV1 } from '../../src/legacy/purchase-updates.model.js';
import type { StoredStatus, StoredTransaction } from '../../src/purchases/purchase-update.js';
import { type TestTransaction, V1_DATES, V1_TEST, v1Body } from '../helpers/v1-bodies.js';
import { appleStatus, at, ORIGINAL_ID, renewal, transaction } from './records.js';
import { applyAll, type SubscriptionUpdate } from './subscription-fold.js';

// Upgrades and crossgrades within one subscription group. The period after an upgrade is
// the upgraded-to transaction (Apple marks the old one isUpgraded and cancels it), even
// when the old one would have run longer: a yearly plan upgraded to a monthly premium one.

const { DAY } = V1_DATES;
const YEARLY = 'com.example.pro.yearly';
const PREMIUM_MONTHLY = 'com.example.premium.monthly';
const PREMIUM_YEARLY = 'com.example.premium.yearly';
const BASIC_MONTHLY = 'com.example.pro.monthly';
const OTHER_MONTHLY = 'com.example.pro.monthly.other';

interface Change {
  name: string;
  from: { productId: string; days: number };
  to: { productId: string; days: number };
}

// Both directions of upgrade (the new plan ending sooner or later than the old) and a
// crossgrade to a plan of the same level and length, which Apple also applies at once.
const CHANGES: Change[] = [
  { name: 'a yearly plan upgraded to a monthly premium plan', from: { productId: YEARLY, days: 365 }, to: { productId: PREMIUM_MONTHLY, days: 30 } },
  { name: 'a monthly plan upgraded to a yearly premium plan', from: { productId: BASIC_MONTHLY, days: 30 }, to: { productId: PREMIUM_YEARLY, days: 365 } },
  { name: 'a monthly plan crossgraded to another monthly plan', from: { productId: BASIC_MONTHLY, days: 30 }, to: { productId: OTHER_MONTHLY, days: 30 } },
];

const UPGRADE_AFTER = 10 * DAY;
const start = V1_TEST.start;
const upgradedAt = start + UPGRADE_AFTER;

function expectCurrentIsUpgradedTo(state: PurchaseState | null, change: Change): void {
  expect(state).toMatchObject({ status: 'active', active: true, productId: change.to.productId, revocationDate: null });
  expect(state?.expiresDate).toEqual(new Date(upgradedAt + change.to.days * DAY));
}

describe('the current period after an upgrade or crossgrade, from V1 bodies', () => {
  function v1Upgrade(type: V1NotificationType, change: Change) {
    const old: TestTransaction = {
      transactionId: '1000000000000001',
      productId: change.from.productId,
      purchase: start,
      expires: start + change.from.days * DAY,
      upgraded: true,
      cancellation: { at: upgradedAt, reason: '0' },
    };
    const upgradedTo: TestTransaction = {
      transactionId: '1000000000000002',
      productId: change.to.productId,
      purchase: upgradedAt,
      expires: upgradedAt + change.to.days * DAY,
    };
    const body = v1Body(type, { transactions: [upgradedTo, old], renewals: [{ productId: change.to.productId }] });
    return normalizeV1Notification(parseV1Notification(body));
  }

  function evaluateV1(type: V1NotificationType, change: Change, now: number) {
    const updates: SubscriptionUpdate[] = [];
    for (const update of updatesFromV1(v1Upgrade(type, change))) {
      for (const { record } of update.transactions) updates.push({ transaction: record });
      updates.push({ renewal: update.renewal?.record, status: update.status });
    }
    const records = applyAll(updates);
    return evaluatePurchase({ transactions: [...records.transactions.values()], renewal: records.renewal, status: records.status, now: new Date(now) });
  }

  for (const change of CHANGES) {
    it.each(['CANCEL', 'INTERACTIVE_RENEWAL', 'DID_CHANGE_RENEWAL_PREF'] as const)(
      `reports Apple status 1 and the new plan for ${change.name} (%s)`,
      (type) => {
        expect(v1Upgrade(type, change).status).toEqual([{ originalTransactionId: V1_TEST.originalTransactionId, appleStatus: 1 }]);
        expectCurrentIsUpgradedTo(evaluateV1(type, change, upgradedAt + 5 * DAY), change);
      },
    );
  }

  it('still revokes a V1 subscription whose upgraded-to period is refunded', () => {
    const change = CHANGES[0]!;
    const body = v1Body('REFUND', {
      transactions: [
        {
          transactionId: '1000000000000002',
          productId: change.to.productId,
          purchase: upgradedAt,
          expires: upgradedAt + 30 * DAY,
          cancellation: { at: upgradedAt + 2 * DAY, reason: '1' },
        },
        {
          transactionId: '1000000000000001',
          productId: change.from.productId,
          purchase: start,
          expires: start + 365 * DAY,
          upgraded: true,
          cancellation: { at: upgradedAt, reason: '0' },
        },
      ],
      renewals: [{ productId: change.to.productId, autoRenew: false }],
    });
    expect(normalizeV1Notification(parseV1Notification(body)).status).toEqual([{ originalTransactionId: V1_TEST.originalTransactionId, appleStatus: 5 }]);
  });
});

describe('the current period after an upgrade or crossgrade, from signed (V2) records', () => {
  const t0 = at('2026-01-01T10:00:00Z').getTime();
  const upgradeTime = t0 + UPGRADE_AFTER;

  function records(change: Change, withUpgradeFlag: boolean): { transactions: StoredTransaction[]; status: StoredStatus } {
    const old = transaction({
      transactionId: '2000000000000001',
      productId: change.from.productId,
      purchaseDate: new Date(t0),
      expiresDate: new Date(t0 + change.from.days * DAY),
      ...(withUpgradeFlag ? { isUpgraded: true, revocationDate: new Date(upgradeTime), signedDate: new Date(upgradeTime + 1000) } : {}),
    });
    const upgradedTo = transaction({
      transactionId: '2000000000000002',
      productId: change.to.productId,
      purchaseDate: new Date(upgradeTime),
      originalPurchaseDate: new Date(t0),
      expiresDate: new Date(upgradeTime + change.to.days * DAY),
      transactionReason: 'PURCHASE',
      signedDate: new Date(upgradeTime + 1000),
    });
    return { transactions: [old, upgradedTo], status: appleStatus(1, new Date(upgradeTime + 1000)) };
  }

  for (const change of CHANGES) {
    it(`answers the upgraded-to transaction for ${change.name}, with or without the old one's isUpgraded yet`, () => {
      const now = new Date(upgradeTime + 5 * DAY);
      const later = renewal({ productId: change.to.productId, autoRenewProductId: change.to.productId, signedDate: new Date(upgradeTime + 1000) });
      for (const flagged of [true, false]) {
        const state = evaluatePurchase({ ...records(change, flagged), renewal: later, now });
        expect(state?.originalTransactionId).toBe(ORIGINAL_ID);
        expect(state?.expiresDate).toEqual(new Date(upgradeTime + change.to.days * DAY));
        expect(state).toMatchObject({ status: 'active', productId: change.to.productId, transactionId: '2000000000000002', willRenew: true });
      }
    });
  }
});
