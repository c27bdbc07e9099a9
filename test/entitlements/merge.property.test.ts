import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePurchase } from '../../src/entitlements/state.model.js';
import { mergeRenewal, mergeStatus, mergeTransaction } from '../../src/purchases/merge.model.js';
import type { StoredRenewal, StoredStatus, StoredTransaction } from '../../src/purchases/purchase-update.js';
import { appleStatus, at, period, renewal } from './records.js';
import type { SubscriptionRecords, SubscriptionUpdate } from './subscription-fold.js';
import { applyAll, arrange, snapshot } from './subscription-fold.js';

// One monthly subscription's life as Apple would notify it, in the order it happened.
const off = { autoRenewStatus: 0 };
const extendedThird = { expiresDate: at('2026-04-08T10:00:00Z') };
const lifecycle: SubscriptionUpdate[] = [
  // SUBSCRIBED INITIAL_BUY
  { transaction: period(1), renewal: renewal(), status: appleStatus(1, '2026-01-01T10:00:01Z') },
  // DID_RENEW twice
  {
    transaction: period(2),
    renewal: renewal({ renewalDate: at('2026-03-01T10:00:00Z'), signedDate: at('2026-02-01T10:00:01Z') }),
    status: appleStatus(1, '2026-02-01T10:00:01Z'),
  },
  {
    transaction: period(3),
    renewal: renewal({ renewalDate: at('2026-04-01T10:00:00Z'), signedDate: at('2026-03-01T10:00:01Z') }),
    status: appleStatus(1, '2026-03-01T10:00:01Z'),
  },
  // DID_CHANGE_RENEWAL_STATUS AUTO_RENEW_DISABLED
  {
    transaction: period(3, { signedDate: at('2026-03-05T00:00:00Z') }),
    renewal: renewal({ ...off, renewalDate: at('2026-04-01T10:00:00Z'), signedDate: at('2026-03-05T00:00:00Z') }),
    status: appleStatus(1, '2026-03-05T00:00:00Z'),
  },
  // REFUND of the older second period
  {
    transaction: period(2, { revocationDate: at('2026-03-10T00:00:00Z'), revocationReason: 0, signedDate: at('2026-03-10T00:00:01Z') }),
    renewal: renewal({ ...off, renewalDate: at('2026-04-01T10:00:00Z'), signedDate: at('2026-03-10T00:00:01Z') }),
    status: appleStatus(1, '2026-03-10T00:00:01Z'),
  },
  // REFUND_REVERSED
  {
    transaction: period(2, { signedDate: at('2026-03-15T00:00:01Z') }),
    renewal: renewal({ ...off, renewalDate: at('2026-04-01T10:00:00Z'), signedDate: at('2026-03-15T00:00:01Z') }),
    status: appleStatus(1, '2026-03-15T00:00:01Z'),
  },
  // RENEWAL_EXTENDED by a week
  {
    transaction: period(3, { ...extendedThird, signedDate: at('2026-03-20T00:00:00Z') }),
    renewal: renewal({ ...off, renewalDate: at('2026-04-08T10:00:00Z'), signedDate: at('2026-03-20T00:00:00Z') }),
    status: appleStatus(1, '2026-03-20T00:00:00Z'),
  },
  // EXPIRED VOLUNTARY
  {
    transaction: period(3, { ...extendedThird, signedDate: at('2026-04-08T10:00:05Z') }),
    renewal: renewal({
      ...off,
      expirationIntent: 1,
      renewalDate: at('2026-04-08T10:00:00Z'),
      signedDate: at('2026-04-08T10:00:05Z'),
    }),
    status: appleStatus(2, '2026-04-08T10:00:05Z'),
  },
  // The same final transaction JWS fetched from the Server API: same signedDate, another source.
  { transaction: { ...period(3, { ...extendedThird, signedDate: at('2026-04-08T10:00:05Z') }), source: 'api' } },
];

const evaluationTimes = [at('2026-03-12T00:00:00Z'), at('2026-04-05T00:00:00Z'), at('2026-04-08T10:00:00Z'), at('2026-05-01T00:00:00Z')];

const evaluateAt = (records: SubscriptionRecords) =>
  evaluationTimes.map((now) => evaluatePurchase({ transactions: [...records.transactions.values()], renewal: records.renewal, status: records.status, now }));

/** Arbitrary duplicates of `items`, then a permutation of the whole list. */
const deliveries = <T>(items: readonly T[]) =>
  fc.array(fc.nat({ max: items.length - 1 }), { maxLength: 2 * items.length }).chain((duplicates) => {
    const size = items.length + duplicates.length;
    const indices = Array.from({ length: size }, (_, i) => i);
    return fc.shuffledSubarray(indices, { minLength: size, maxLength: size }).map((permutation) => arrange(items, duplicates, permutation));
  });

describe('merging a subscription lifecycle delivered out of order', () => {
  const inOrder = applyAll(lifecycle);

  it('ends, in order, with the refund reversed, the extension applied and the subscription expired', () => {
    const [midMarch, beforeEnd, atEnd, later] = evaluateAt(inOrder);
    expect(midMarch).toMatchObject({ status: 'active', transactionId: period(3).transactionId, willRenew: false });
    expect(beforeEnd?.expiresDate).toEqual(at('2026-04-08T10:00:00Z'));
    expect(beforeEnd?.status).toBe('active');
    expect(atEnd?.status).toBe('expired');
    expect(later?.status).toBe('expired');
    expect(inOrder.transactions.get(period(2).transactionId)?.revocationDate).toBeNull();
    expect(inOrder.status?.appleStatus).toBe(2);
  });

  it('stores the same records and evaluates the same in any order with any duplicates', () => {
    fc.assert(
      fc.property(deliveries(lifecycle), (arrived) => {
        const records = applyAll(arrived);
        expect(snapshot(records)).toEqual(snapshot(inOrder));
        expect(evaluateAt(records)).toEqual(evaluateAt(inOrder));
      }),
      { numRuns: 300 },
    );
  });
});

// The same guarantee for arbitrary versions of one record: few distinct signedDates so
// ties are common, content that differs in the fields the state model reads.
const signedDates = [at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00Z'), at('2026-01-03T00:00:00Z')];
const maybeDate = fc.option(fc.constantFrom(...signedDates), { nil: null });

const transactionVersion: fc.Arbitrary<StoredTransaction> = fc
  .record({
    signedDate: fc.constantFrom(...signedDates),
    revocationDate: maybeDate,
    expiresDate: maybeDate,
    isUpgraded: fc.boolean(),
    source: fc.constantFrom('v2' as const, 'v1' as const, 'api' as const, undefined),
  })
  .map(({ source, ...fields }) => {
    const record = period(1, fields);
    return source === undefined ? record : { ...record, source };
  });

const renewalVersion: fc.Arbitrary<StoredRenewal> = fc
  .record({
    signedDate: fc.constantFrom(...signedDates),
    autoRenewStatus: fc.constantFrom(0, 1, null),
    isInBillingRetryPeriod: fc.constantFrom(true, false, null),
    gracePeriodExpiresDate: maybeDate,
  })
  .map((fields) => renewal(fields));

const statusVersion: fc.Arbitrary<StoredStatus> = fc
  .tuple(fc.constantFrom(1, 2, 3, 4, 5, null), fc.constantFrom(...signedDates))
  .map(([value, signed]) => appleStatus(value, signed));

function foldsTheSame<T>(merge: (existing: T | undefined, incoming: T) => T, versions: fc.Arbitrary<T>) {
  fc.assert(
    fc.property(
      fc.array(versions, { minLength: 1, maxLength: 8 }).chain((items) => deliveries(items).map((arrived) => [items, arrived] as const)),
      ([items, arrived]) => {
        const fold = (list: readonly T[]) => list.reduce<T | undefined>((acc, item) => merge(acc, item), undefined);
        expect(fold(arrived)).toEqual(fold(items));
      },
    ),
    { numRuns: 300 },
  );
}

describe('merge rules as an order-independent maximum', () => {
  it('folds arbitrary transaction versions, ties included, to the same record in any order', () => {
    foldsTheSame(mergeTransaction, transactionVersion);
  });

  it('folds arbitrary renewal versions, ties included, to the same record in any order', () => {
    foldsTheSame(mergeRenewal, renewalVersion);
  });

  it('folds arbitrary statuses, ties and silent ones included, to the same status in any order', () => {
    foldsTheSame(mergeStatus, statusVersion);
  });
});
