import { describe, expect, it } from 'vitest';
import { at, postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, TEST_ADMIN_KEY } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useTestApp, useTestPki } from '../helpers/fixtures.js';
import { createTestPki } from '../helpers/pki.js';

const ADMIN = authHeader(TEST_ADMIN_KEY);
const lookupPath = (orderId: string) => `/inApps/v1/lookup/${orderId}`;

describe(`GET /admin/orders/:orderId (${backendName})`, () => {
  const apple = useAppStoreApiDouble();
  const trusted = useTestPki();
  const t = useTestApp(() => ({ pki: trusted.pki, overrides: { appStoreApi: apple.client({ timeoutMs: 2_000 }) } }));
  const offline = useTestApp(() => ({ pki: trusted.pki }));

  const lookUp = (orderId: string, headers = ADMIN) => t.app.inject({ method: 'GET', url: `/admin/orders/${orderId}`, headers });

  it("answers the order's transactions, verified, each with the user its purchase is linked to (or null)", async () => {
    const linked = transactionPayload({ transactionId: '6100', purchaseDate: at('2026-11-01T10:00:00Z') });
    const unlinked = transactionPayload({ transactionId: '6200', productId: 'com.example.lifetime', type: 'Non-Consumable', expiresDate: undefined });
    expect((await postTransaction(t, 'u-customer', linked)).statusCode).toBe(200);
    apple.double.reply('GET', lookupPath('MK5TTTVWJH'), { body: { status: 0, signedTransactions: [t.pki.sign(linked), t.pki.sign(unlinked)] } });

    const response = await lookUp('MK5TTTVWJH');

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({
      orderId: 'MK5TTTVWJH',
      environment: 'Production',
      transactions: [
        {
          transactionId: '6100',
          originalTransactionId: '6100',
          productId: 'com.example.pro.monthly',
          purchaseDate: '2026-11-01T10:00:00.000Z',
          userId: 'u-customer',
        },
        {
          transactionId: '6200',
          originalTransactionId: '6200',
          productId: 'com.example.lifetime',
          purchaseDate: new Date(unlinked.purchaseDate).toISOString(),
          userId: null,
        },
      ],
    });
  });

  it('answers 404 ORDER_NOT_FOUND when Apple says the order is invalid in every accepted environment', async () => {
    apple.double.reply('GET', lookupPath('NOPE123'), { body: { status: 1 } });
    const response = await lookUp('NOPE123');
    expect([response.statusCode, response.json().error.code]).toEqual([404, 'ORDER_NOT_FOUND']);
    expect(apple.double.requests.filter((r) => r.path === lookupPath('NOPE123'))).toHaveLength(2);
  });

  it('finds a Sandbox order when Production does not know it', async () => {
    const payload = transactionPayload({ transactionId: '6300' });
    apple.double.reply('GET', lookupPath('SANDBOX1'), { body: { status: 1 } }, { body: { status: 0, signedTransactions: [t.pki.sign(payload)] } });
    const response = await lookUp('SANDBOX1');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ environment: 'Sandbox', transactions: [{ transactionId: '6300', userId: null }] });
  });

  it('answers 400 with the verifier code when a returned transaction fails verification', async () => {
    const stranger = await createTestPki();
    apple.double.reply('GET', lookupPath('FORGED1'), {
      body: { status: 0, signedTransactions: [stranger.sign(transactionPayload({ transactionId: '6400' }))] },
    });
    const response = await lookUp('FORGED1');
    expect([response.statusCode, response.json().error.code]).toEqual([400, 'UNTRUSTED_ROOT']);
  });

  it("answers 503 APP_STORE_UNAVAILABLE on Apple's retryable errors", async () => {
    apple.double.reply('GET', lookupPath('BUSY1'), { status: 500, body: { errorCode: 5000001, errorMessage: 'Please try again.' } });
    const response = await lookUp('BUSY1');
    expect([response.statusCode, response.json().error.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);
  });

  it('answers 400 API_NOT_CONFIGURED without App Store Server API credentials', async () => {
    const response = await offline.app.inject({ method: 'GET', url: '/admin/orders/MK5TTTVWJH', headers: ADMIN });
    expect([response.statusCode, response.json().error.code]).toEqual([400, 'API_NOT_CONFIGURED']);
  });

  it('answers 401 without a key and 403 with an app key', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/admin/orders/MK5TTTVWJH' });
    const app = await lookUp('MK5TTTVWJH', authHeader());
    expect(none.statusCode).toBe(401);
    expect(app.statusCode).toBe(403);
  });

  it('answers 400 for an order id that is no id', async () => {
    const response = await lookUp('a%20b');
    expect(response.statusCode).toBe(400);
  });
});
