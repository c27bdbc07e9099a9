import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppStoreServerApi } from '../../src/apple/api/index.js';
import { purchaseLinks, transactions } from '../../src/db/schema.js';
import { authHeader, createTestApp, TEST_BUNDLE_ID, type TestApp, type TestAppOptions } from '../helpers/app.js';
import { closedPortUrl } from '../helpers/closed-port.js';
import { DAY } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';
import { buildReceipt, createReceiptPki, type ReceiptPki, type TestReceiptContent } from '../helpers/receipt-builder.js';
import { countRows, NOTHING, wipe } from '../helpers/rows.js';

const MONTHLY = 'com.example.pro.monthly';
const LIFETIME = 'com.example.lifetime';
const SUB_OTID = '2000000000000001';
const SUB_LATEST = '2000000000000002';
const LIFETIME_ID = '2000000000000050';

describe(`POST /users/:userId/receipts (${backendName})`, () => {
  const shared = useDatabaseAndPki();
  const apple = useAppStoreApiDouble({ bundleId: TEST_BUNDLE_ID });
  let receiptPki: ReceiptPki;
  beforeAll(async () => {
    receiptPki = await createReceiptPki();
  });
  const now = Date.now();
  const start = now - 40 * DAY;

  const content = (overrides: Partial<TestReceiptContent> = {}): TestReceiptContent => ({
    bundleId: TEST_BUNDLE_ID,
    receiptCreationDate: new Date(now - DAY),
    receiptType: 'ProductionSandbox',
    inApp: [
      { transactionId: SUB_OTID, productId: MONTHLY, purchaseDate: new Date(start), expiresDate: new Date(start + 30 * DAY) },
      {
        transactionId: SUB_LATEST,
        originalTransactionId: SUB_OTID,
        productId: MONTHLY,
        purchaseDate: new Date(start + 30 * DAY),
        originalPurchaseDate: new Date(start),
        expiresDate: new Date(start + 60 * DAY),
      },
      { transactionId: LIFETIME_ID, productId: LIFETIME, purchaseDate: new Date(start + DAY) },
    ],
    ...overrides,
  });

  const signedSubscription = () =>
    shared.pki.sign({
      transactionId: SUB_LATEST,
      originalTransactionId: SUB_OTID,
      bundleId: TEST_BUNDLE_ID,
      productId: MONTHLY,
      purchaseDate: start + 30 * DAY,
      originalPurchaseDate: start,
      expiresDate: start + 60 * DAY,
      type: 'Auto-Renewable Subscription',
      inAppOwnershipType: 'PURCHASED',
      signedDate: now - 1000,
      environment: 'Sandbox',
    });
  const signedLifetime = () =>
    shared.pki.sign({
      transactionId: LIFETIME_ID,
      originalTransactionId: LIFETIME_ID,
      bundleId: TEST_BUNDLE_ID,
      productId: LIFETIME,
      purchaseDate: start + DAY,
      originalPurchaseDate: start + DAY,
      type: 'Non-Consumable',
      inAppOwnershipType: 'PURCHASED',
      signedDate: now - 1000,
      environment: 'Sandbox',
    });

  function scriptApple(): void {
    apple.double.reply('GET', `/inApps/v1/subscriptions/${SUB_LATEST}`, {
      body: {
        environment: 'Sandbox',
        bundleId: TEST_BUNDLE_ID,
        data: [
          {
            subscriptionGroupIdentifier: '1',
            lastTransactions: [
              {
                status: 1,
                originalTransactionId: SUB_OTID,
                signedTransactionInfo: signedSubscription(),
                signedRenewalInfo: shared.pki.sign({
                  originalTransactionId: SUB_OTID,
                  productId: MONTHLY,
                  autoRenewProductId: MONTHLY,
                  autoRenewStatus: 1,
                  signedDate: now - 1000,
                  environment: 'Sandbox',
                }),
              },
            ],
          },
        ],
      },
    });
    apple.double.reply('GET', `/inApps/v1/transactions/${LIFETIME_ID}`, { body: { signedTransactionInfo: signedLifetime() } });
  }

  const postReceipt = (app: TestApp, userId: string, receipt: string, headers: Record<string, string> = authHeader()) =>
    app.app.inject({ method: 'POST', url: `/users/${userId}/receipts`, headers, payload: { receipt } });

  const appOptions = (env: Record<string, string> = {}, appStoreApi = apple.client()): TestAppOptions => ({
    ...shared,
    env,
    overrides: { appStoreApi, receiptRootCertificates: [receiptPki.root.der] },
  });
  const appWith = (env?: Record<string, string>, appStoreApi?: AppStoreServerApi) => createTestApp(appOptions(env, appStoreApi));
  const t = useTestApp(() => appOptions());
  beforeEach(async () => {
    await wipe(shared.database.handle.db);
    apple.double.reset();
    apple.double.requests.length = 0;
    scriptApple();
  });

  it("links every purchase of the receipt, fetched signed from the Server API, and answers with the user's entitlements", async () => {
    const receipt = await buildReceipt(content(), { pki: receiptPki, includeRoot: true });
    const response = await postReceipt(t, 'u-1', receipt);

    expect(response.statusCode, response.body).toBe(200);
    const answer = response.json();
    expect(answer.userId).toBe('u-1');
    expect(answer.entitlements.map((e: { productId: string; status: string }) => [e.productId, e.status]).sort()).toEqual([
      [LIFETIME, 'active'],
      [MONTHLY, 'active'],
    ]);
    expect(apple.double.requests.map((r) => r.path).sort()).toEqual([`/inApps/v1/subscriptions/${SUB_LATEST}`, `/inApps/v1/transactions/${LIFETIME_ID}`]);
    const links = await shared.database.handle.db.select().from(purchaseLinks).orderBy(purchaseLinks.originalTransactionId);
    expect(links.map((l) => [l.originalTransactionId, l.userId, l.linkSource])).toEqual([
      [SUB_OTID, 'u-1', 'receipt'],
      [LIFETIME_ID, 'u-1', 'receipt'],
    ]);
    const stored = await shared.database.handle.db.select().from(transactions).orderBy(transactions.transactionId);
    expect(stored.map((row) => [row.transactionId, row.source])).toEqual([
      [SUB_LATEST, 'api'],
      [LIFETIME_ID, 'api'],
    ]);
  });

  it('reads a receipt written with indefinite lengths, as Xcode writes them', async () => {
    const receipt = await buildReceipt(content(), { pki: receiptPki, encoding: 'indefinite' });
    const response = await postReceipt(t, 'u-1', receipt);

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().entitlements).toHaveLength(2);
  });

  it('refuses with 400 a receipt whose signature does not chain to the trusted root, asking Apple nothing', async () => {
    const stranger = await createReceiptPki({ name: 'Stranger' });
    const response = await postReceipt(t, 'u-1', await buildReceipt(content(), { pki: stranger, includeRoot: true }));

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RECEIPT_UNTRUSTED');
    expect(apple.double.requests).toHaveLength(0);
    expect(await countRows(shared.database.handle.db)).toEqual(NOTHING);
  });

  it('refuses with 400 a receipt whose content was changed after signing', async () => {
    const tampered = await buildReceipt(content(), { pki: receiptPki, swapContentAfterSigning: content({ bundleId: TEST_BUNDLE_ID, inApp: [] }) });
    const response = await postReceipt(t, 'u-1', tampered);

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RECEIPT_SIGNATURE_INVALID');
  });

  it('refuses with 400 a malformed receipt and a receipt of another app', async () => {
    const malformed = await postReceipt(t, 'u-1', 'bm90IGEgcmVjZWlwdA==');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('MALFORMED_RECEIPT');

    const other = await postReceipt(t, 'u-1', await buildReceipt(content({ bundleId: 'com.example.other' }), { pki: receiptPki }));
    expect(other.statusCode).toBe(400);
    expect(other.json().error.code).toBe('WRONG_BUNDLE_ID');
    expect(await countRows(shared.database.handle.db)).toEqual(NOTHING);
  });

  it('answers 401 without an API key', async () => {
    const response = await postReceipt(t, 'u-1', 'AAAA', {});
    expect(response.statusCode).toBe(401);
  });

  it('moves a purchase to the new user under TRANSFER_POLICY=transfer and refuses it with 409 under keep', async () => {
    const receipt = await buildReceipt(content(), { pki: receiptPki });
    expect((await postReceipt(t, 'u-1', receipt)).statusCode).toBe(200);
    const moved = await postReceipt(t, 'u-2', receipt);
    expect(moved.statusCode).toBe(200);
    expect(moved.json().entitlements).toHaveLength(2);

    const keeping = await appWith({ TRANSFER_POLICY: 'keep' });
    try {
      const refused = await postReceipt(keeping, 'u-3', receipt);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.code).toBe('ALREADY_LINKED');
      const links = await shared.database.handle.db.select().from(purchaseLinks);
      expect(new Set(links.map((l) => l.userId))).toEqual(new Set(['u-2']));
    } finally {
      await keeping.close();
    }
  });

  it('answers 503 and links nothing while the App Store Server API is unreachable', async () => {
    const offline = await appWith({}, apple.client({ baseUrl: await closedPortUrl() }));
    try {
      const response = await postReceipt(offline, 'u-1', await buildReceipt(content(), { pki: receiptPki }));
      expect(response.statusCode).toBe(503);
      expect(await countRows(shared.database.handle.db)).toEqual(NOTHING);
    } finally {
      await offline.close();
    }
  });

  it("answers Apple's refusals with the mapping every route uses: our app or credentials refused is 502, an unknown purchase 400, try-again 503", async () => {
    const receipt = await buildReceipt(content(), { pki: receiptPki });
    const answers: Array<[number, unknown, number, string]> = [
      [404, { errorCode: 4040003, errorMessage: 'App not found.' }, 502, 'APP_STORE_ERROR'],
      [401, undefined, 502, 'APP_STORE_UNAUTHORIZED'],
      [404, { errorCode: 4040010, errorMessage: 'Transaction id not found.' }, 400, 'PURCHASE_NOT_FOUND'],
      [404, { errorCode: 4040002, errorMessage: 'Account not found. Please try again.' }, 503, 'APP_STORE_UNAVAILABLE'],
    ];
    for (const [status, body, expectedStatus, expectedCode] of answers) {
      apple.double.reply('GET', `/inApps/v1/transactions/${LIFETIME_ID}`, { status, ...(body === undefined ? {} : { body }) });
      const response = await postReceipt(t, 'u-1', receipt);
      expect([response.statusCode, response.json().error.code]).toEqual([expectedStatus, expectedCode]);
      expect(await countRows(shared.database.handle.db)).toEqual(NOTHING);
    }
  });

  it('answers 400 API_NOT_CONFIGURED without Server API credentials', async () => {
    const bare = await createTestApp({ ...shared, overrides: { receiptRootCertificates: [receiptPki.root.der] } });
    try {
      const response = await postReceipt(bare, 'u-1', await buildReceipt(content(), { pki: receiptPki }));
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('API_NOT_CONFIGURED');
    } finally {
      await bare.close();
    }
  });
});
