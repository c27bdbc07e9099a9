import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type NormalizeV1Options, normalizeV1Notification, parseV1Notification, type V1NotificationType } from '../../src/apple/v1/index.js';
import { parseIsoDuration } from '../../src/entitlements/iso-duration.js';
import { evaluatePurchase } from '../../src/entitlements/state.model.js';
import { updatesFromV1 } from '../../src/legacy/purchase-updates.model.js';
import type { StoredTransaction } from '../../src/purchases/purchase-update.js';
import { V1_DATES, V1_TEST, type V1BodyOptions, v1Body } from '../helpers/v1-bodies.js';
import { appleStatus, renewal, transaction } from './records.js';
import { applyAll, arrange, type SubscriptionRecords, type SubscriptionUpdate, snapshot } from './subscription-fold.js';

// The permutation property of merge.property.test.ts over harder histories: V1 bodies
// mixed with signed notifications of the same purchase, upgrades in both directions, and
// non-renewing purchases whose end comes from the catalog. Each history is a list of
// notifications (a notification brings several records); whatever order and duplicates
// they arrive in, the stored records and the evaluated state are the ones of the in-order
// history. Dated facts are also checked in order, where they do not depend on how V1
// data ranks against signed data.

const { DAY, MONTH } = V1_DATES;
const start = V1_TEST.start;
const ID = V1_TEST.originalTransactionId;
const SEASON = 'com.example.season';
const PREMIUM_MONTHLY = 'com.example.premium.monthly';
const PREMIUM_YEARLY = 'com.example.premium.yearly';
const durationOf = (productId: string) => (productId === SEASON ? parseIsoDuration('P1M') : null);
const catalogTypes: NormalizeV1Options = { productTypeOf: (productId) => (productId === SEASON ? 'Non-Renewing Subscription' : null) };

type Notification = SubscriptionUpdate[];

function v1(type: V1NotificationType, options: V1BodyOptions): Notification {
  const updates: Notification = [];
  for (const update of updatesFromV1(normalizeV1Notification(parseV1Notification(v1Body(type, options)), catalogTypes))) {
    for (const { record } of update.transactions) updates.push({ transaction: record });
    updates.push({ renewal: update.renewal?.record, status: update.status });
  }
  return updates;
}

/** A signed record of the V1 test subscription (same ids, products and environment). */
const signed = (transactionId: string, purchase: number, signedAt: number, overrides: Partial<StoredTransaction> = {}) =>
  transaction({
    transactionId,
    originalTransactionId: ID,
    productId: V1_TEST.monthly,
    subscriptionGroupIdentifier: V1_TEST.groupId,
    environment: 'Sandbox',
    purchaseDate: new Date(purchase),
    originalPurchaseDate: new Date(start),
    expiresDate: new Date(purchase + MONTH),
    signedDate: new Date(signedAt),
    ...overrides,
  });
const signedRenewal = (signedAt: number, overrides = {}) =>
  renewal({ originalTransactionId: ID, environment: 'Sandbox', signedDate: new Date(signedAt), renewalDate: null, ...overrides });
const signedStatus = (value: number, signedAt: number) => ({ ...appleStatus(value, new Date(signedAt)), originalTransactionId: ID });

const evaluateAt = (records: SubscriptionRecords, times: readonly number[]) =>
  times.map((now) =>
    evaluatePurchase({
      transactions: [...records.transactions.values()],
      renewal: records.renewal,
      status: records.status,
      now: new Date(now),
      durationOf,
    }),
  );

const deliveries = (notifications: readonly Notification[]) =>
  fc.array(fc.nat({ max: notifications.length - 1 }), { maxLength: notifications.length }).chain((duplicates) => {
    const size = notifications.length + duplicates.length;
    const indices = Array.from({ length: size }, (_, i) => i);
    return fc.shuffledSubarray(indices, { minLength: size, maxLength: size }).map((permutation) => arrange(notifications, duplicates, permutation).flat());
  });

function orderIndependent(history: readonly Notification[], times: readonly number[]): void {
  const inOrder = applyAll(history.flat());
  fc.assert(
    fc.property(deliveries(history), (arrived) => {
      const records = applyAll(arrived);
      expect(snapshot(records)).toEqual(snapshot(inOrder));
      expect(evaluateAt(records, times)).toEqual(evaluateAt(inOrder, times));
    }),
    { numRuns: 200 },
  );
}

describe('V1 bodies mixed with signed notifications of one subscription', () => {
  const refundAt = start + MONTH + 4 * DAY;
  const history: Notification[] = [
    v1('INITIAL_BUY', { transactions: [{ transactionId: '1000000000000001', purchase: start }] }),
    [{ transaction: signed('1000000000000001', start, start + 1000), renewal: signedRenewal(start + 1000), status: signedStatus(1, start + 1000) }],
    v1('DID_RENEW', {}),
    [
      {
        transaction: signed('1000000000000002', start + MONTH, start + MONTH + 1000),
        renewal: signedRenewal(start + MONTH + 1000),
        status: signedStatus(1, start + MONTH + 1000),
      },
    ],
    v1('REFUND', {}),
    [
      {
        transaction: signed('1000000000000002', start + MONTH, refundAt + 1000, { revocationDate: new Date(refundAt), revocationReason: 1 }),
        renewal: signedRenewal(refundAt + 1000, { autoRenewStatus: 0 }),
        status: signedStatus(5, refundAt + 1000),
      },
    ],
  ];
  const times = [start + 10 * DAY, start + MONTH + 2 * DAY, start + MONTH + 5 * DAY, start + 3 * MONTH];

  it('is active on the renewal before the refund arrives and revoked once it has, in order', () => {
    const [, beforeRefund] = evaluateAt(applyAll(history.slice(0, 4).flat()), times);
    expect(beforeRefund).toMatchObject({ status: 'active', transactionId: '1000000000000002' });
    const [, , refunded, later] = evaluateAt(applyAll(history.flat()), times);
    expect(refunded).toMatchObject({ status: 'revoked', transactionId: '1000000000000002' });
    expect(later?.status).toBe('revoked');
  });

  it('stores the same records and evaluates the same in any order with any duplicates', () => {
    orderIndependent(history, times);
  });
});

describe('upgrades in both directions, signed and V1', () => {
  const upgradeAt = start + 10 * DAY;
  const directions = [
    { name: 'a monthly plan upgraded to a yearly premium plan', from: V1_TEST.monthly, fromDays: 30, to: PREMIUM_YEARLY, toDays: 365 },
    { name: 'a yearly plan upgraded to a monthly premium plan', from: V1_TEST.yearly, fromDays: 365, to: PREMIUM_MONTHLY, toDays: 30 },
  ];

  for (const d of directions) {
    const oldEnd = start + d.fromDays * DAY;
    const newEnd = upgradeAt + d.toDays * DAY;
    const history: Notification[] = [
      [
        {
          transaction: signed('1000000000000001', start, start + 1000, { productId: d.from, expiresDate: new Date(oldEnd) }),
          renewal: signedRenewal(start + 1000, { productId: d.from, autoRenewProductId: d.from }),
          status: signedStatus(1, start + 1000),
        },
      ],
      // DID_CHANGE_RENEWAL_PREF UPGRADE: the upgraded-to transaction.
      [
        {
          transaction: signed('1000000000000002', upgradeAt, upgradeAt + 1000, { productId: d.to, expiresDate: new Date(newEnd) }),
          renewal: signedRenewal(upgradeAt + 1000, { productId: d.to, autoRenewProductId: d.to }),
          status: signedStatus(1, upgradeAt + 1000),
        },
      ],
      // The old transaction as the history API answers it afterwards: upgraded and cancelled.
      [
        {
          transaction: signed('1000000000000001', start, upgradeAt + 2000, {
            productId: d.from,
            expiresDate: new Date(oldEnd),
            isUpgraded: true,
            revocationDate: new Date(upgradeAt),
          }),
        },
      ],
      // Apple's V1 CANCEL for the same upgrade.
      v1('CANCEL', {
        transactions: [
          { transactionId: '1000000000000002', productId: d.to, purchase: upgradeAt, expires: newEnd },
          {
            transactionId: '1000000000000001',
            productId: d.from,
            purchase: start,
            expires: oldEnd,
            upgraded: true,
            cancellation: { at: upgradeAt, reason: '0' },
          },
        ],
        renewals: [{ productId: d.to }],
      }),
    ];
    const times = [upgradeAt + DAY, newEnd - DAY, newEnd + 61 * DAY];

    it(`answers the upgraded-to plan after ${d.name}, in order`, () => {
      const [afterUpgrade, beforeEnd, later] = evaluateAt(applyAll(history.flat()), times);
      expect(afterUpgrade).toMatchObject({ status: 'active', productId: d.to, transactionId: '1000000000000002' });
      expect(beforeEnd).toMatchObject({ status: 'active', productId: d.to });
      expect(later).toMatchObject({ status: 'expired', productId: d.to });
    });

    it(`stores and evaluates ${d.name} the same in any order with any duplicates`, () => {
      orderIndependent(history, times);
    });
  }
});

describe('a non-renewing purchase whose end comes from the catalog', () => {
  const purchase = start + 5 * DAY;
  const end = Date.parse('2026-02-06T10:00:00Z'); // 2026-01-06T10:00Z + P1M
  const season = (signedAt: number, overrides: Partial<StoredTransaction> = {}) =>
    transaction({
      transactionId: '1000000000000070',
      originalTransactionId: '1000000000000070',
      productId: SEASON,
      productType: 'Non-Renewing Subscription',
      subscriptionGroupIdentifier: null,
      environment: 'Sandbox',
      purchaseDate: new Date(purchase),
      originalPurchaseDate: new Date(purchase),
      expiresDate: null,
      signedDate: new Date(signedAt),
      ...overrides,
    });
  const history: Notification[] = [
    v1('CONSUMPTION_REQUEST', { transactions: [{ transactionId: '1000000000000070', productId: SEASON, purchase, expires: null }] }),
    [{ transaction: season(purchase + 1000) }],
    [{ transaction: { ...season(purchase + 1000), source: 'api' } }],
    // REFUND, then REFUND_REVERSED
    [{ transaction: season(purchase + 3 * DAY, { revocationDate: new Date(purchase + 3 * DAY - 1000), revocationReason: 1 }) }],
    [{ transaction: season(purchase + 4 * DAY) }],
  ];
  const times = [purchase + DAY, end - 1, end, end + MONTH];

  it('grants access for the catalog duration from its purchaseDate, in order', () => {
    const states = evaluateAt(applyAll(history.flat()), times);
    expect(states.map((s) => s?.status)).toEqual(['active', 'active', 'expired', 'expired']);
    expect(states[0]?.expiresDate).toEqual(new Date(end));
  });

  it('stores the same records and evaluates the same in any order with any duplicates', () => {
    orderIndependent(history, times);
  });
});
