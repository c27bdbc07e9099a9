import { beforeEach, describe, expect, it } from 'vitest';
import { notifications, transactions } from '../../src/db/schema.js';
import { getEntitlements, manualClock, postTransaction } from '../entitlements/app-backend-fixtures.js';
import { authHeader, TEST_BUNDLE_ID } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { countRows, NOTHING, wipe } from '../helpers/rows.js';
import { receiptInfo, V1_DATES, V1_TEST, v1Body } from '../helpers/v1-bodies.js';
import { post as postV2, scenario } from '../notifications/support.js';
import { useVerifyReceiptDouble } from './verify-receipt-double.js';

// SPEC: a record from V1 data never replaces or outranks data Apple signed, and nothing
// dated more than a minute in the future is accepted from any source (400 FUTURE_DATED).
// docs/v1-trust.md: a V1 body that cannot be checked against Apple changes no purchase.

type Body = Record<string, unknown> & { unified_receipt: Record<string, unknown> };

const { DAY, MONTH } = V1_DATES;
const NOW = V1_TEST.start + 2 * MONTH + 10 * DAY;
const YEAR_2100 = Date.parse('2100-01-01T00:00:00Z');

describe(`V1 data against signed data, and future dates (${backendName})`, () => {
  const time = manualClock(new Date(NOW).toISOString());
  const verifyReceipt = useVerifyReceiptDouble();
  const t = useTestApp(() => ({
    clock: time.clock,
    env: { APPLE_SHARED_SECRET: V1_TEST.sharedSecret, APPLE_VERIFY_RECEIPT_URL: verifyReceipt.double.url },
  }));
  const receipts = new Map<string, Record<string, unknown>>();

  beforeEach(async () => {
    await wipe(t.database.handle.db);
    time.set(new Date(NOW).toISOString());
    receipts.clear();
    verifyReceipt.double.requests.length = 0;
    verifyReceipt.double.answer('Production', () => ({ body: { status: 21007 } }));
    verifyReceipt.double.answer('Sandbox', (request) => {
      const unified = receipts.get(String(request.receiptData));
      if (unified === undefined) return { body: { status: 21002 } };
      return { body: { status: 0, environment: 'Sandbox', receipt: { bundle_id: V1_TEST.bundleId }, ...unified } };
    });
  });

  const postV1 = (body: unknown) => t.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload: body as object });
  const deliverChecked = (body: Body) => {
    receipts.set(String(body.unified_receipt.latest_receipt), body.unified_receipt);
    return postV1(body);
  };
  const tokenOf = async (userId: string) =>
    (await t.app.inject({ method: 'GET', url: `/users/${userId}/app-account-token`, headers: authHeader() })).json().appAccountToken as string;

  it("records a V1 body that cannot be checked (no latest_receipt) but changes no purchase: a made-up purchase carrying alice's token grants her nothing", async () => {
    const alice = await tokenOf('alice');
    const madeUp = {
      ...receiptInfo({ transactionId: '1000000000000777', purchase: NOW - DAY, expires: NOW + 3650 * DAY }),
      original_transaction_id: '1000000000000777',
      app_account_token: alice,
    };
    const body = v1Body('INITIAL_BUY', { environment: 'PROD', transactions: [] }) as Body;
    body.unified_receipt.latest_receipt_info = [madeUp];
    body.unified_receipt.pending_renewal_info = [];
    delete body.unified_receipt.latest_receipt;

    const response = await postV1(body);
    expect(response.statusCode, response.body).toBe(200);
    expect((await getEntitlements(t, 'alice')).json().entitlements).toEqual([]);
    expect(await t.database.handle.db.select().from(transactions)).toEqual([]);
    const [recorded] = await t.database.handle.db.select().from(notifications);
    expect(recorded).toMatchObject({ version: 'v1', notificationType: 'INITIAL_BUY', outcome: 'recorded' });
    expect(verifyReceipt.double.requests).toHaveLength(0);
  });

  it('answers 400 FUTURE_DATED to a V1 refund dated 2100, asking Apple nothing and writing nothing', async () => {
    const body = v1Body('REFUND', {
      transactions: [{ transactionId: '1000000000000002', purchase: V1_TEST.start + MONTH, cancellation: { at: YEAR_2100, reason: '1' } }],
    }) as Body;
    const response = await deliverChecked(body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('FUTURE_DATED');
    expect(verifyReceipt.double.requests).toHaveLength(0);
    expect(await countRows(t.database.handle.db)).toEqual(NOTHING);
  });

  it("lets Apple's signed transaction replace the V1 record of the same transaction, whichever arrived first", async () => {
    // Apple's verifyReceipt reports the second period refunded; the app then posts the
    // signed transaction of that period, signed before the refund and without it.
    const refundAt = V1_TEST.start + MONTH + 4 * DAY;
    const signed = {
      transactionId: '1000000000000002',
      originalTransactionId: V1_TEST.originalTransactionId,
      bundleId: TEST_BUNDLE_ID,
      productId: V1_TEST.monthly,
      purchaseDate: V1_TEST.start + MONTH,
      originalPurchaseDate: V1_TEST.start,
      expiresDate: NOW + 20 * DAY,
      type: 'Auto-Renewable Subscription' as const,
      inAppOwnershipType: 'PURCHASED' as const,
      signedDate: V1_TEST.start + MONTH + 1000,
      environment: 'Sandbox' as const,
    };
    const refund = v1Body('REFUND', {
      transactions: [
        { transactionId: '1000000000000002', purchase: V1_TEST.start + MONTH, expires: NOW + 20 * DAY, cancellation: { at: refundAt, reason: '1' } },
        { transactionId: '1000000000000001', purchase: V1_TEST.start },
      ],
    }) as Body;

    expect((await deliverChecked(refund)).statusCode).toBe(200);
    expect((await postTransaction(t, 'u-v1', signed)).statusCode).toBe(200);
    const withoutTimes = async () =>
      ((await getEntitlements(t, 'u-v1')).json().entitlements as Array<Record<string, unknown>>).map(({ updatedAt: _u, ...rest }) => rest);
    const after = await withoutTimes();
    expect(after).toMatchObject([{ transactionId: '1000000000000002', status: 'active', revocationDate: null }]);

    await wipe(t.database.handle.db);
    expect((await postTransaction(t, 'u-v1', signed)).statusCode).toBe(200);
    expect((await deliverChecked({ ...refund, bvrs: '35' })).statusCode).toBe(200);
    expect(await withoutTimes()).toEqual(after);
  });

  it('answers 400 FUTURE_DATED to a V2 notification signed more than a minute ahead of the clock, writing nothing', async () => {
    const purchase = scenario(t.pki, { start: NOW - DAY });
    const ahead = await postV2(t.app, purchase.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: NOW + 2 * 60_000 }));
    expect([ahead.statusCode, ahead.json().error.code]).toEqual([400, 'FUTURE_DATED']);
    const revokedIn2100 = await postV2(
      t.app,
      purchase.sign({ type: 'REFUND', signedDate: NOW, period: 0, transaction: { revocationDate: YEAR_2100, revocationReason: 1 } }),
    );
    expect([revokedIn2100.statusCode, revokedIn2100.json().error.code]).toEqual([400, 'FUTURE_DATED']);
    expect(await countRows(t.database.handle.db)).toEqual(NOTHING);

    const withinAMinute = await postV2(t.app, purchase.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: NOW + 30_000 }));
    expect(withinAMinute.statusCode).toBe(200);
  });

  it('answers 400 FUTURE_DATED to a posted transaction signed or bought in the future, linking nothing', async () => {
    const base = {
      transactionId: '3000000000000001',
      originalTransactionId: '3000000000000001',
      bundleId: TEST_BUNDLE_ID,
      productId: 'com.example.lifetime',
      purchaseDate: NOW - DAY,
      originalPurchaseDate: NOW - DAY,
      type: 'Non-Consumable' as const,
      inAppOwnershipType: 'PURCHASED' as const,
      signedDate: NOW - 1000,
      environment: 'Sandbox' as const,
    };
    for (const future of [{ signedDate: NOW + 5 * 60_000 }, { purchaseDate: YEAR_2100, originalPurchaseDate: YEAR_2100 }]) {
      const response = await postTransaction(t, 'u-future', { ...base, ...future });
      expect([response.statusCode, response.json().error.code]).toEqual([400, 'FUTURE_DATED']);
    }
    expect(await countRows(t.database.handle.db)).toEqual(NOTHING);
    // Apple charges a renewal up to a day ahead of its period: that purchaseDate is not "future dated".
    const early = await postTransaction(t, 'u-future', { ...base, purchaseDate: NOW + 12 * 3_600_000 });
    expect(early.statusCode).toBe(200);
  });
});
