import { describe, expect, it } from 'vitest';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { at, days, getEntitlements, manualClock, postTransaction, renewalPayload, storeSigned, transactionPayload } from './app-backend-fixtures.js';

describe(`a refund, then a new purchase of the same subscription (${backendName})`, () => {
  const time = manualClock('2026-11-10T02:00:00Z');
  const t = useTestApp({ clock: time.clock });

  it('answers active when the app posts the resubscription before Apple’s SUBSCRIBED arrives', async () => {
    const original = '2000000000000301';
    const refundedAt = at('2026-11-10T00:00:00Z');
    const first = transactionPayload({ transactionId: original, purchaseDate: at('2026-11-01T10:00:00Z') });
    expect((await postTransaction(t, 'u-resubscribed', first)).statusCode).toBe(200);
    // Apple's REFUND: the transaction revoked, auto-renew off, status 5.
    await storeSigned(t, {
      transactions: [{ ...first, revocationDate: refundedAt, revocationReason: 1, signedDate: refundedAt + 1_000 }],
      renewal: renewalPayload({ originalTransactionId: original, autoRenewStatus: 0, signedDate: refundedAt + 1_000 }),
      status: { originalTransactionId: original, appleStatus: 5, signedDate: refundedAt + 1_000 },
    });
    expect((await getEntitlements(t, 'u-resubscribed')).json().entitlements[0]).toMatchObject({ status: 'revoked' });

    // An hour later the customer subscribes again; the app posts the new transaction.
    const resubscribedAt = refundedAt + 60 * 60 * 1000;
    const again = transactionPayload({
      transactionId: '2000000000000302',
      originalTransactionId: original,
      purchaseDate: resubscribedAt,
      originalPurchaseDate: first.purchaseDate,
      expiresDate: resubscribedAt + days(30),
      transactionReason: 'PURCHASE',
    });
    expect((await postTransaction(t, 'u-resubscribed', again)).statusCode).toBe(200);

    const [entry] = (await getEntitlements(t, 'u-resubscribed')).json().entitlements;
    expect(entry).toMatchObject({ status: 'active', active: true, transactionId: '2000000000000302', revocationDate: null, willRenew: null });
  });
});
