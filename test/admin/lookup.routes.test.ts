import { describe, expect, it } from 'vitest';
import { postTransaction, storeSigned, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, TEST_ADMIN_KEY } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

const ADMIN = authHeader(TEST_ADMIN_KEY);

describe(`GET /admin/lookup (${backendName})`, () => {
  const t = useTestApp();
  const lookUp = (query: string, headers = ADMIN) => t.app.inject({ method: 'GET', url: `/admin/lookup?${query}`, headers });

  it('finds the user a transaction, its purchase or an app account token belongs to', async () => {
    const first = transactionPayload({ transactionId: '9100' });
    const renewal = transactionPayload({ transactionId: '9101', originalTransactionId: '9100', purchaseDate: first.purchaseDate + 30 * 86_400_000 });
    expect((await postTransaction(t, 'u-look', first)).statusCode).toBe(200);
    expect((await postTransaction(t, 'u-look', renewal)).statusCode).toBe(200);
    const token = (await t.app.inject({ method: 'GET', url: '/users/u-look/app-account-token', headers: authHeader() })).json().appAccountToken;

    expect((await lookUp('transactionId=9101')).json()).toEqual({ userId: 'u-look', originalTransactionId: '9100', purchaseRecorded: true });
    expect((await lookUp('originalTransactionId=9100')).json()).toEqual({ userId: 'u-look', originalTransactionId: '9100', purchaseRecorded: true });
    expect((await lookUp(`appAccountToken=${token.toUpperCase()}`)).json()).toEqual({ userId: 'u-look', originalTransactionId: null, purchaseRecorded: false });
  });

  it('says when a purchase is recorded but linked to no one, and when an id is unknown', async () => {
    await storeSigned(t, { transactions: [transactionPayload({ transactionId: '9200' })] });
    expect((await lookUp('transactionId=9200')).json()).toEqual({ userId: null, originalTransactionId: '9200', purchaseRecorded: true });
    expect((await lookUp('transactionId=unknown-1')).json()).toEqual({ userId: null, originalTransactionId: null, purchaseRecorded: false });
    expect((await lookUp('appAccountToken=6f1c3a52-1d7e-4d8a-9b1e-2b6c0f3d4e5a')).json()).toMatchObject({ userId: null });
  });

  it('answers 400 unless exactly one id is given, 401 without a key and 403 with an app key', async () => {
    for (const query of ['', 'transactionId=1&originalTransactionId=1', 'appAccountToken=not-a-uuid', 'orderId=1']) {
      const response = await lookUp(query);
      expect([query, response.statusCode, response.json().error.code]).toEqual([query, 400, 'VALIDATION_ERROR']);
    }
    expect((await t.app.inject({ method: 'GET', url: '/admin/lookup?transactionId=1' })).statusCode).toBe(401);
    expect((await lookUp('transactionId=1', authHeader())).statusCode).toBe(403);
  });
});
