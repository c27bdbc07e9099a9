import { eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { V1_NOTIFICATION_TYPES, type V1NotificationType, v1DedupKey } from '../../src/apple/v1/index.js';
import { notifications, subscriptions, transactions } from '../../src/db/schema.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp, useTestDatabase } from '../helpers/fixtures.js';
import { countRows, NOTHING, wipe } from '../helpers/rows.js';
import { V1_TEST, v1Body } from '../helpers/v1-bodies.js';
import { answerSandboxReceipts, useVerifyReceiptDouble } from './verify-receipt-double.js';

type Body = Record<string, unknown> & { unified_receipt: Record<string, unknown> };

const post = (t: TestApp, payload: unknown) => t.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload: payload as object });

/** Apple's status each scenario of `V1_SCENARIOS` describes (null: no subscription). */
const EXPECTED_STATUS: Record<V1NotificationType, number | null> = {
  INITIAL_BUY: 1,
  DID_RENEW: 1,
  DID_RECOVER: 1,
  INTERACTIVE_RENEWAL: 1,
  DID_CHANGE_RENEWAL_PREF: 1,
  DID_CHANGE_RENEWAL_STATUS: 1,
  DID_FAIL_TO_RENEW: 4,
  CANCEL: 5,
  REFUND: 5,
  REVOKE: 5,
  CONSUMPTION_REQUEST: null,
  PRICE_INCREASE_CONSENT: 1,
};

// One database for the file (migrating one is the slow part); each test wipes its data.
const shared = useTestDatabase();

describe(`POST /webhooks/apple/v1 without Server API credentials (${backendName})`, () => {
  const verifyReceipt = useVerifyReceiptDouble();
  const t = useTestApp(() => ({
    database: shared.database,
    env: { APPLE_SHARED_SECRET: V1_TEST.sharedSecret, APPLE_VERIFY_RECEIPT_URL: verifyReceipt.double.url },
  }));
  // latest_receipt → the unified receipt Apple's verifyReceipt answers for it.
  const receipts = new Map<string, Record<string, unknown>>();

  beforeEach(async () => {
    await wipe(t.deps.database.db);
    verifyReceipt.double.requests.length = 0;
    receipts.clear();
    // Every test receipt is a Sandbox one: production redirects with 21007, as Apple does.
    answerSandboxReceipts(verifyReceipt.double, receipts);
  });

  function deliver(body: Body) {
    receipts.set(String(body.unified_receipt.latest_receipt), body.unified_receipt);
    return post(t, body);
  }

  const storedTransactions = () => t.deps.database.db.select().from(transactions).orderBy(transactions.transactionId);
  const storedSubscription = async () =>
    (await t.deps.database.db.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, V1_TEST.originalTransactionId)))[0];

  it.each(V1_NOTIFICATION_TYPES)('applies a realistic %s body through verifyReceipt and marks its data as V1', async (type) => {
    const body = v1Body(type) as Body;
    const response = await deliver(body);

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ status: 'processed' });
    const infos = body.unified_receipt.latest_receipt_info as Array<{ transaction_id: string; product_id: string }>;
    const stored = await storedTransactions();
    expect(stored.map((row) => row.transactionId)).toEqual(infos.map((info) => info.transaction_id).sort());
    expect(new Set(stored.map((row) => row.source))).toEqual(new Set(['v1']));
    expect(stored.every((row) => row.signedTransaction === null)).toBe(true);

    // V1 data carries no Apple status (it could not be ranked below signed data); the
    // state model reads the same facts from the V1 transactions and renewal info.
    const subscription = await storedSubscription();
    expect(subscription?.appleStatus ?? null).toBeNull();
    if (EXPECTED_STATUS[type] !== null) expect(subscription?.renewalSource).toBe('v1');

    const [notification] = await t.deps.database.db.select().from(notifications);
    expect(notification).toMatchObject({ id: `v1:${v1DedupKey(body)}`, version: 'v1', notificationType: type, outcome: 'applied' });
    expect(notification?.payload).not.toContain(V1_TEST.sharedSecret);
    expect(JSON.parse(notification!.payload)).toEqual(Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'password')));
  });

  it('stores what the renewal info of a V1 body says: the product the subscription renews to and auto-renew off', async () => {
    expect((await deliver(v1Body('DID_CHANGE_RENEWAL_PREF') as Body)).statusCode).toBe(200);
    expect((await storedSubscription())?.autoRenewProductId).toBe(V1_TEST.yearly);
    await wipe(t.deps.database.db);
    expect((await deliver(v1Body('DID_CHANGE_RENEWAL_STATUS') as Body)).statusCode).toBe(200);
    expect((await storedSubscription())?.autoRenewStatus).toBe(0);
  });

  it('asks production first, then the sandbox on status 21007, sending the shared secret as password', async () => {
    const body = v1Body('DID_RENEW') as Body;
    expect((await deliver(body)).statusCode).toBe(200);

    expect(verifyReceipt.double.requests.map((r) => r.environment)).toEqual(['Production', 'Sandbox']);
    for (const request of verifyReceipt.double.requests) {
      expect(request.password).toBe(V1_TEST.sharedSecret);
      expect(request.receiptData).toBe(body.unified_receipt.latest_receipt);
    }
  });

  it("applies verifyReceipt's answer rather than the body when they differ", async () => {
    const body = v1Body('DID_RENEW') as Body;
    const answered = v1Body('INITIAL_BUY') as Body;
    receipts.set(String(body.unified_receipt.latest_receipt), answered.unified_receipt);
    expect((await post(t, body)).statusCode).toBe(200);

    expect((await storedTransactions()).map((row) => row.transactionId)).toEqual(['1000000000000001']);
  });

  it('answers 400 with the receipt status code when verifyReceipt rejects the receipt for good, and writes nothing', async () => {
    verifyReceipt.double.answer('Sandbox', () => ({ body: { status: 21003 } }));
    const response = await deliver(v1Body('DID_RENEW') as Body);

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RECEIPT_NOT_AUTHENTICATED');
    expect(await countRows(t.deps.database.db)).toEqual(NOTHING);
  });

  it('answers 503 while verifyReceipt is temporarily unavailable, writes nothing, and applies the resend', async () => {
    verifyReceipt.double.answer('Production', () => ({ body: { status: 21005 } }));
    const body = v1Body('DID_RENEW') as Body;
    const first = await deliver(body);

    expect(first.statusCode).toBe(503);
    expect(first.json().error.code).toBe('APP_STORE_UNAVAILABLE');
    expect(await countRows(t.deps.database.db)).toEqual(NOTHING);

    verifyReceipt.double.answer('Production', () => ({ body: { status: 21007 } }));
    const resend = await deliver(body);
    expect(resend.json()).toEqual({ status: 'processed' });
    expect((await countRows(t.deps.database.db)).transactions).toBe(2);
  });

  it('records a body without latest_receipt but applies nothing from it, without calling verifyReceipt (docs/v1-trust.md)', async () => {
    const body = v1Body('DID_RENEW') as Body;
    delete body.unified_receipt.latest_receipt;
    const response = await post(t, body);

    expect(response.json()).toEqual({ status: 'processed' });
    expect(verifyReceipt.double.requests).toHaveLength(0);
    expect(await storedTransactions()).toEqual([]);
    const [notification] = await t.deps.database.db.select().from(notifications);
    expect(notification).toMatchObject({ version: 'v1', notificationType: 'DID_RENEW', outcome: 'recorded' });
  });

  it("recognises Apple's resend of the same body and applies it once", async () => {
    const body = v1Body('DID_RENEW') as Body;
    expect((await deliver(body)).json()).toEqual({ status: 'processed' });
    const after = await countRows(t.deps.database.db);
    const calls = verifyReceipt.double.requests.length;

    const resend = await deliver(structuredClone(body));
    expect(resend.statusCode).toBe(200);
    expect(resend.json()).toEqual({ status: 'duplicate' });
    expect(await countRows(t.deps.database.db)).toEqual(after);
    expect(after.notifications).toBe(1);
    expect(verifyReceipt.double.requests.length).toBe(calls);
  });

  it('refuses a wrong password with 401, before calling anyone or writing anything', async () => {
    const response = await deliver(v1Body('DID_RENEW', { password: 'not-the-secret' }) as Body);

    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('UNAUTHORIZED');
    expect(verifyReceipt.double.requests).toHaveLength(0);
    expect(await countRows(t.deps.database.db)).toEqual(NOTHING);
  });

  it('answers 401, not a validation error, to a malformed body without the right password', async () => {
    for (const payload of [{ notification_type: 42 }, { password: 'guess', bid: [] }, [1, 2, 3]]) {
      const response = await post(t, payload);
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('UNAUTHORIZED');
    }
  });

  it('answers 400 with the parser code to a malformed body with the right password', async () => {
    const unknownType = await post(t, { ...v1Body('DID_RENEW'), notification_type: 'DID_SOMETHING' });
    expect(unknownType.statusCode).toBe(400);
    expect(unknownType.json().error.code).toBe('UNKNOWN_V1_NOTIFICATION_TYPE');

    const body = v1Body('DID_RENEW') as Body;
    body.unified_receipt.latest_receipt_info = [{ transaction_id: '1' }];
    const malformed = await post(t, body);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('MALFORMED_V1_BODY');
    expect(await countRows(t.deps.database.db)).toEqual(NOTHING);
  });

  it('refuses a body for another bundle id with 400 WRONG_BUNDLE_ID', async () => {
    const response = await deliver(v1Body('DID_RENEW', { bid: 'com.example.other' }) as Body);

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('WRONG_BUNDLE_ID');
    expect(await countRows(t.deps.database.db)).toEqual(NOTHING);
  });

  it('refuses a body whose verifyReceipt answer names another bundle id', async () => {
    verifyReceipt.double.answer('Sandbox', (request) => {
      const unified = receipts.get(String(request.receiptData))!;
      return { body: { ...unified, status: 0, environment: 'Sandbox', receipt: { bundle_id: 'com.example.other' } } };
    });
    const response = await deliver(v1Body('DID_RENEW') as Body);

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('WRONG_BUNDLE_ID');
  });
});

describe(`POST /webhooks/apple/v1 with limited settings (${backendName})`, () => {
  beforeEach(async () => {
    await wipe(shared.database.handle.db);
  });

  it('answers 404 V1_DISABLED while APPLE_SHARED_SECRET is unset, whatever the body', async () => {
    const t = await createTestApp({ database: shared.database });
    try {
      for (const payload of [v1Body('DID_RENEW'), 'not json at all']) {
        const response = await t.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload, headers: { 'content-type': 'application/json' } });
        expect(response.statusCode).toBe(404);
        expect(response.json().error.code).toBe('V1_DISABLED');
      }
      expect(await countRows(t.deps.database.db)).toEqual(NOTHING);
    } finally {
      await t.close();
    }
  });

  it('refuses a Sandbox body with 400 WRONG_ENVIRONMENT when APPLE_ENVIRONMENTS accepts only Production', async () => {
    const t = await createTestApp({
      database: shared.database,
      env: { APPLE_SHARED_SECRET: V1_TEST.sharedSecret, APPLE_ENVIRONMENTS: 'Production', APPLE_VERIFY_RECEIPT_URL: 'http://127.0.0.1:9/never' },
    });
    try {
      const response = await post(t, v1Body('DID_RENEW', { environment: 'Sandbox' }));
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('WRONG_ENVIRONMENT');
      expect(await countRows(t.deps.database.db)).toEqual(NOTHING);
    } finally {
      await t.close();
    }
  });
});
