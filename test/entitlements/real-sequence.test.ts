import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload, ResponseBodyV2DecodedPayload } from '../../src/apple/types.js';
import { evaluatePurchase } from '../../src/entitlements/state.model.js';
import { statusFromNotification } from '../../src/notifications/notification-mapping.js';
import { describeNotification } from '../../src/notifications/notification-types.js';
import { projectRoot } from '../../src/paths.js';
import { renewalFromPayload, transactionFromPayload } from '../../src/purchases/merge.model.js';
import type { SubscriptionRecords, SubscriptionUpdate } from './subscription-fold.js';
import { applyAll, arrange, snapshot } from './subscription-fold.js';

const realDir = path.resolve(projectRoot, '../shared/apple/real');

// Signatures are the verifier's business; this test only needs Apple's real payload shapes.
function decodeJws<T>(jws: string): T {
  const payload = jws.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as T;
}

function updateFrom(file: string): SubscriptionUpdate {
  const body = JSON.parse(readFileSync(path.join(realDir, file), 'utf8')) as { signedPayload: string };
  const n = decodeJws<ResponseBodyV2DecodedPayload>(body.signedPayload);
  const handling = describeNotification(n.notificationType, n.subtype);
  if (handling.kind === 'recorded-only') return {};
  const update: SubscriptionUpdate = {};
  const data = n.data ?? {};
  if (handling.applies.includes('transaction') && data.signedTransactionInfo !== undefined) {
    update.transaction = transactionFromPayload(decodeJws<JWSTransactionDecodedPayload>(data.signedTransactionInfo), 'v2');
  }
  if (handling.applies.includes('renewal') && data.signedRenewalInfo !== undefined) {
    update.renewal = renewalFromPayload(decodeJws<JWSRenewalInfoDecodedPayload>(data.signedRenewalInfo), 'v2');
  }
  const appleStatus = statusFromNotification(n.notificationType, n.subtype, data.status);
  const originalTransactionId = update.transaction?.originalTransactionId ?? update.renewal?.originalTransactionId;
  if (handling.applies.includes('status') && appleStatus !== null && originalTransactionId !== undefined) {
    update.status = { originalTransactionId, appleStatus, statusSignedDate: new Date(n.signedDate) };
  }
  return update;
}

const evaluateAt = (records: SubscriptionRecords, now: Date) =>
  evaluatePurchase({ transactions: [...records.transactions.values()], renewal: records.renewal, status: records.status, now });

describe.skipIf(!existsSync(realDir))('a real Sandbox subscription (skipped when ../shared/apple/real is absent)', () => {
  const files = Array.from({ length: 14 }, (_, i) => `v2-notification-${String(i + 1).padStart(2, '0')}.json`);
  const updates = files.map(updateFrom);
  const inOrder = applyAll(updates);
  const lastSigned = Math.max(...[...inOrder.transactions.values()].map((t) => t.signedDate.getTime()));

  it('keeps the newest period active after a refund of an older period, then expires it', () => {
    const justAfter = evaluateAt(inOrder, new Date(lastSigned + 1000));
    expect(justAfter).toMatchObject({ status: 'active', transactionId: '2000001035288486', productId: 'com.getsession.org.pro_sub_3_months' });
    expect(inOrder.transactions.get('2000001032604840')?.revocationDate).not.toBeNull();
    const afterExpiry = evaluateAt(inOrder, new Date((justAfter?.expiresDate?.getTime() ?? 0) + 1));
    expect(afterExpiry?.status).toBe('expired');
  });

  it('ends in the same records and state whatever order and duplicates the notifications arrive in', () => {
    const nows = [new Date(lastSigned + 1000), new Date(lastSigned + 86_400_000)];
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: updates.length - 1 }), { maxLength: 10 }).chain((duplicates) => {
          const size = updates.length + duplicates.length;
          const indices = Array.from({ length: size }, (_, i) => i);
          return fc.shuffledSubarray(indices, { minLength: size, maxLength: size }).map((p) => arrange(updates, duplicates, p));
        }),
        (arrived) => {
          const records = applyAll(arrived);
          expect(snapshot(records)).toEqual(snapshot(inOrder));
          expect(nows.map((now) => evaluateAt(records, now))).toEqual(nows.map((now) => evaluateAt(inOrder, now)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
