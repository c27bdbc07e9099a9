import { eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { subscriptions, transactions } from '../../src/db/schema.js';
import { createTestApp, TEST_BUNDLE_ID, type TestApp } from '../helpers/app.js';
import { closedPortUrl } from '../helpers/closed-port.js';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { countRows, NOTHING, wipe } from '../helpers/rows.js';
import { V1_DATES, V1_TEST, v1Body } from '../helpers/v1-bodies.js';
import { useVerifyReceiptDouble } from './verify-receipt-double.js';

const OTID = V1_TEST.originalTransactionId;
// What Apple's Server API knows: a renewal the V1 body has not mentioned yet.
const SIGNED_AT = V1_TEST.start + 2 * V1_DATES.MONTH + 60_000;

function signedTransaction(pki: TestPki, overrides: Record<string, unknown> = {}) {
  return pki.sign({
    transactionId: '1000000000000003',
    originalTransactionId: OTID,
    bundleId: TEST_BUNDLE_ID,
    productId: V1_TEST.monthly,
    subscriptionGroupIdentifier: V1_TEST.groupId,
    purchaseDate: V1_TEST.start + 2 * V1_DATES.MONTH,
    originalPurchaseDate: V1_TEST.start,
    expiresDate: V1_TEST.start + 3 * V1_DATES.MONTH,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate: SIGNED_AT,
    environment: 'Sandbox',
    ...overrides,
  });
}

function signedRenewal(pki: TestPki) {
  return pki.sign({
    originalTransactionId: OTID,
    productId: V1_TEST.monthly,
    autoRenewProductId: V1_TEST.yearly,
    autoRenewStatus: 1,
    signedDate: SIGNED_AT,
    environment: 'Sandbox',
  });
}

describe(`POST /webhooks/apple/v1 with Server API credentials: the body is only a trigger (${backendName})`, () => {
  const shared = useDatabaseAndPki();
  const apple = useAppStoreApiDouble({ bundleId: TEST_BUNDLE_ID });
  const verifyReceipt = useVerifyReceiptDouble();
  const env = () => ({ APPLE_SHARED_SECRET: V1_TEST.sharedSecret, APPLE_VERIFY_RECEIPT_URL: verifyReceipt.double.url });
  const t = useTestApp(() => ({ ...shared, env: env(), overrides: { appStoreApi: apple.client() } }));

  const post = (app: TestApp, body: unknown) => app.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload: body as object });

  beforeEach(async () => {
    await wipe(shared.database.handle.db);
    apple.double.reset();
    apple.double.requests.length = 0;
    verifyReceipt.double.requests.length = 0;
  });

  it("applies the subscription's signed state from Get All Subscription Statuses, not the body, marked 'api'", async () => {
    const jws = signedTransaction(shared.pki);
    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, {
      body: {
        environment: 'Sandbox',
        bundleId: TEST_BUNDLE_ID,
        data: [
          {
            subscriptionGroupIdentifier: V1_TEST.groupId,
            lastTransactions: [{ status: 1, originalTransactionId: OTID, signedTransactionInfo: jws, signedRenewalInfo: signedRenewal(shared.pki) }],
          },
        ],
      },
    });
    const response = await post(t, v1Body('DID_RENEW'));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ status: 'processed' });
    expect(apple.double.requests.map((r) => r.path)).toEqual([`/inApps/v1/subscriptions/${OTID}`]);
    expect(verifyReceipt.double.requests).toHaveLength(0);
    const stored = await shared.database.handle.db.select().from(transactions);
    // The body's own transactions (…001, …002) are not applied: only Apple's signed answer is.
    expect(stored.map((row) => [row.transactionId, row.source, row.signedTransaction])).toEqual([['1000000000000003', 'api', jws]]);
    const [subscription] = await shared.database.handle.db.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, OTID));
    expect(subscription).toMatchObject({ appleStatus: 1, autoRenewProductId: V1_TEST.yearly, renewalSource: 'api' });
    expect(subscription?.statusSignedDate?.getTime()).toBe(SIGNED_AT);
  });

  it('looks a non-subscription up with Get Transaction Info', async () => {
    const jws = signedTransaction(shared.pki, {
      transactionId: '1000000000000090',
      originalTransactionId: '1000000000000090',
      productId: V1_TEST.coins,
      type: 'Consumable',
      expiresDate: undefined,
      subscriptionGroupIdentifier: undefined,
    });
    apple.double.reply('GET', '/inApps/v1/transactions/1000000000000090', { body: { signedTransactionInfo: jws } });
    const response = await post(t, v1Body('CONSUMPTION_REQUEST'));

    expect(response.statusCode, response.body).toBe(200);
    expect(apple.double.requests.map((r) => r.path)).toEqual(['/inApps/v1/transactions/1000000000000090']);
    const stored = await shared.database.handle.db.select().from(transactions);
    expect(stored.map((row) => [row.transactionId, row.productType, row.source])).toEqual([['1000000000000090', 'Consumable', 'api']]);
  });

  it('refuses signed data that does not chain to the trusted root, writing nothing', async () => {
    const stranger = await createTestPki();
    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, {
      body: { data: [{ lastTransactions: [{ status: 1, originalTransactionId: OTID, signedTransactionInfo: signedTransaction(stranger) }] }] },
    });
    const response = await post(t, v1Body('DID_RENEW'));

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('UNTRUSTED_ROOT');
    expect(await countRows(shared.database.handle.db)).toEqual(NOTHING);
  });

  it('answers 503 and writes nothing while the App Store Server API is unreachable; the resend applies', async () => {
    const unreachable = apple.client({ baseUrl: await closedPortUrl() });
    const offline = await createTestApp({ ...shared, env: env(), overrides: { appStoreApi: unreachable } });
    const body = v1Body('DID_RENEW');
    try {
      const response = await post(offline, body);
      expect(response.statusCode).toBe(503);
      expect(response.json().error.code).toBe('APP_STORE_UNAVAILABLE');
      expect(await countRows(shared.database.handle.db)).toEqual(NOTHING);
    } finally {
      await offline.close();
    }

    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, {
      body: { data: [{ lastTransactions: [{ status: 1, originalTransactionId: OTID, signedTransactionInfo: signedTransaction(shared.pki) }] }] },
    });
    expect((await post(t, body)).json()).toEqual({ status: 'processed' });
    expect((await countRows(shared.database.handle.db)).notifications).toBe(1);
  });

  it('answers 503 when Apple fails, 502 when it refuses our credentials or app, and 400 PURCHASE_NOT_FOUND when Apple does not know the purchase', async () => {
    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, { status: 500, body: { errorCode: 5000000, errorMessage: 'An unknown error occurred.' } });
    const failing = await post(t, v1Body('DID_RENEW'));
    expect([failing.statusCode, failing.json().error.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);

    // The same mapping as every other route: Apple resends on any answer but 2xx, 502 included.
    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, { status: 401 });
    const refused = await post(t, v1Body('DID_RENEW'));
    expect([refused.statusCode, refused.json().error.code]).toEqual([502, 'APP_STORE_UNAUTHORIZED']);

    // Apple not knowing the app is our configuration's fault, not an unknown purchase.
    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, { status: 404, body: { errorCode: 4040003, errorMessage: 'App not found.' } });
    const misconfigured = await post(t, v1Body('DID_RENEW'));
    expect([misconfigured.statusCode, misconfigured.json().error.code]).toEqual([502, 'APP_STORE_ERROR']);

    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, {
      status: 404,
      body: { errorCode: 4040005, errorMessage: 'Original transaction id not found.' },
    });
    const unknown = await post(t, v1Body('DID_RENEW'));
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('PURCHASE_NOT_FOUND');
    expect(await countRows(shared.database.handle.db)).toEqual(NOTHING);
  });

  it('does not call the Server API again for a duplicate delivery', async () => {
    apple.double.reply('GET', `/inApps/v1/subscriptions/${OTID}`, {
      body: { data: [{ lastTransactions: [{ status: 1, originalTransactionId: OTID, signedTransactionInfo: signedTransaction(shared.pki) }] }] },
    });
    const body = v1Body('INITIAL_BUY');
    expect((await post(t, body)).json()).toEqual({ status: 'processed' });
    expect((await post(t, body)).json()).toEqual({ status: 'duplicate' });
    expect(apple.double.requests).toHaveLength(1);
    expect((await countRows(shared.database.handle.db)).notifications).toBe(1);
  });
});
