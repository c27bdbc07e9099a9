import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JWSTransactionDecodedPayload } from '../../src/apple/types.js';
import { normalizeV1Notification, parseV1Notification } from '../../src/apple/v1/index.js';
import { evaluatePurchase } from '../../src/entitlements/state.model.js';
import { updatesFromV1 } from '../../src/legacy/purchase-updates.model.js';
import { mergeRenewal, mergeStatus, mergeTransaction, renewalFromPayload, transactionFromPayload } from '../../src/purchases/merge.model.js';
import type { PurchaseUpdate, StoredRenewal, StoredStatus, StoredTransaction } from '../../src/purchases/purchase-update.js';
import { arrange } from '../entitlements/subscription-fold.js';
import { V1_DATES, V1_TEST, v1Body } from '../helpers/v1-bodies.js';

// Signed notifications, V1 bodies (as Apple's verifyReceipt answers them) and tokens that
// are no token (the all-zero UUID, the Max UUID in any case), delivered in every order and
// repeated: the stored records and every answer are the same, no record keeps a non-token,
// and wherever Apple signed a transaction the signed version is the one kept.

const { DAY, MONTH } = V1_DATES;
const OTID = V1_TEST.originalTransactionId;
const ZERO = '00000000-0000-0000-0000-000000000000';
const MAX_UPPER = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';

function signedPeriod(n: number, fields: Partial<JWSTransactionDecodedPayload> = {}): JWSTransactionDecodedPayload {
  return {
    transactionId: `100000000000000${n + 1}`,
    originalTransactionId: OTID,
    bundleId: V1_TEST.bundleId,
    productId: V1_TEST.monthly,
    subscriptionGroupIdentifier: V1_TEST.groupId,
    purchaseDate: V1_TEST.start + n * MONTH,
    originalPurchaseDate: V1_TEST.start,
    expiresDate: V1_TEST.start + (n + 1) * MONTH,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate: V1_TEST.start + n * MONTH + 1000,
    environment: 'Sandbox',
    ...fields,
  };
}

function signed(n: number, token: string, status: number, fields: Partial<JWSTransactionDecodedPayload> = {}): PurchaseUpdate {
  const payload = signedPeriod(n, { appAccountToken: token, ...fields });
  return {
    transactions: [{ record: transactionFromPayload(payload, 'v2'), signedTransaction: null }],
    renewal: {
      record: renewalFromPayload(
        {
          originalTransactionId: OTID,
          productId: V1_TEST.monthly,
          autoRenewProductId: V1_TEST.monthly,
          autoRenewStatus: 1,
          signedDate: payload.signedDate,
          environment: 'Sandbox',
        },
        'v2',
      ),
      signedRenewalInfo: null,
    },
    status: { originalTransactionId: OTID, appleStatus: status, statusSignedDate: new Date(payload.signedDate) },
  };
}

function v1(type: Parameters<typeof v1Body>[0], options: Parameters<typeof v1Body>[1], token: string): PurchaseUpdate[] {
  const body = v1Body(type, options) as { unified_receipt: { latest_receipt_info: Array<Record<string, string>> } };
  for (const info of body.unified_receipt.latest_receipt_info) info.app_account_token = token;
  return updatesFromV1(normalizeV1Notification(parseV1Notification(body)));
}

const second = { transactionId: '1000000000000002', purchase: V1_TEST.start + MONTH };
const deliveriesInOrder: PurchaseUpdate[] = [
  signed(0, ZERO, 1),
  ...v1('DID_RENEW', {}, ZERO),
  signed(1, MAX_UPPER, 1),
  // A V1 refund of the second period dated after everything Apple signed about it...
  ...v1(
    'REFUND',
    {
      transactions: [
        { ...second, cancellation: { at: V1_TEST.start + MONTH + 20 * DAY, reason: '1' } },
        { transactionId: '1000000000000001', purchase: V1_TEST.start },
      ],
    },
    MAX_UPPER,
  ),
  // ...and Apple's own later word on it, which says nothing of a refund.
  signed(1, ZERO, 1, { signedDate: V1_TEST.start + MONTH + 10 * DAY }),
  signed(2, ZERO, 1),
];

interface Records {
  transactions: Map<string, StoredTransaction>;
  renewal: StoredRenewal | undefined;
  status: StoredStatus | undefined;
}

function fold(updates: readonly PurchaseUpdate[]): Records {
  const records: Records = { transactions: new Map(), renewal: undefined, status: undefined };
  for (const update of updates) {
    for (const { record } of update.transactions) {
      records.transactions.set(record.transactionId, mergeTransaction(records.transactions.get(record.transactionId), record));
    }
    if (update.renewal) records.renewal = mergeRenewal(records.renewal, update.renewal.record);
    if (update.status) records.status = mergeStatus(records.status, update.status);
  }
  return records;
}

const snapshot = (r: Records) => ({
  transactions: [...r.transactions.values()].sort((a, b) => (a.transactionId < b.transactionId ? -1 : 1)),
  renewal: r.renewal,
  status: r.status,
});

const times = [V1_TEST.start + MONTH + 15 * DAY, V1_TEST.start + 2 * MONTH + DAY, V1_TEST.start + 4 * MONTH].map((ms) => new Date(ms));
const answers = (r: Records) => times.map((now) => evaluatePurchase({ transactions: [...r.transactions.values()], renewal: r.renewal, status: r.status, now }));

const deliveries = <T>(items: readonly T[]) =>
  fc.array(fc.nat({ max: items.length - 1 }), { maxLength: items.length }).chain((duplicates) => {
    const size = items.length + duplicates.length;
    const indices = Array.from({ length: size }, (_, i) => i);
    return fc.shuffledSubarray(indices, { minLength: size, maxLength: size }).map((permutation) => arrange(items, duplicates, permutation));
  });

describe('zero tokens and V1 data mixed with signed notifications', () => {
  const inOrder = fold(deliveriesInOrder);

  it('keeps no non-token, and keeps the signed version of every transaction Apple signed, in order', () => {
    for (const record of inOrder.transactions.values()) {
      expect(record.appAccountToken).toBeNull();
      expect(record.source).toBe('v2');
    }
    expect(inOrder.transactions.get('1000000000000002')?.revocationDate).toBeNull();
    expect(answers(inOrder)[1]).toMatchObject({ status: 'active', transactionId: '1000000000000003' });
  });

  it('stores the same records and gives the same answers in any order with any duplicates', () => {
    fc.assert(
      fc.property(deliveries(deliveriesInOrder), (arrived) => {
        const records = fold(arrived);
        expect(snapshot(records)).toEqual(snapshot(inOrder));
        expect(answers(records)).toEqual(answers(inOrder));
      }),
      { numRuns: 300 },
    );
  });
});
