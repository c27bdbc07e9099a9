import { desc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { purchaseLinkEvents, purchaseLinks } from '../../src/db/schema.js';
import { at, days, getEntitlements, manualClock, postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, type TestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useTestApp, useTestPki } from '../helpers/fixtures.js';
import { createTestPki } from '../helpers/pki.js';

describe(`POST and GET /users/:userId/transactions (${backendName})`, () => {
  const time = manualClock('2026-11-10T00:00:00Z');
  const apple = useAppStoreApiDouble();
  const trusted = useTestPki();
  const t = useTestApp(() => ({ clock: time.clock, pki: trusted.pki, overrides: { appStoreApi: apple.client({ timeoutMs: 1_000 }) } }));
  // `keep` also stands for a service without App Store Server API credentials.
  const keep = useTestApp(() => ({ clock: time.clock, pki: trusted.pki, env: { TRANSFER_POLICY: 'keep' } }));

  const ownerOf = async (app: TestApp, originalTransactionId: string) => {
    const [row] = await app.deps.database.db.select().from(purchaseLinks).where(eq(purchaseLinks.originalTransactionId, originalTransactionId));
    return row?.userId;
  };

  it("records a signed transaction, links its purchase to the user and answers with the user's entitlements", async () => {
    const response = await postTransaction(t, 'u-post', transactionPayload({ transactionId: '700', purchaseDate: at('2026-11-01T00:00:00Z') }));

    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ userId: 'u-post', entitlements: [{ originalTransactionId: '700', status: 'active' }] });
    expect(await ownerOf(t, '700')).toBe('u-post');
  });

  it('answers 400 with the verifier code for a transaction that fails verification, and stores nothing', async () => {
    const stranger = await createTestPki();
    const response = await t.app.inject({
      method: 'POST',
      url: '/users/u-bad/transactions',
      headers: authHeader(),
      payload: { signedTransaction: stranger.sign(transactionPayload({ transactionId: '701' })) },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('UNTRUSTED_ROOT');
    expect(await ownerOf(t, '701')).toBeUndefined();
  });

  it('answers 400 for a body with neither a signed transaction nor a transaction id', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/users/u-bad/transactions', headers: authHeader(), payload: { receipt: 'x' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('VALIDATION_ERROR');
  });

  it('moves a purchase linked to another user under TRANSFER_POLICY=transfer and records both users with the time', async () => {
    time.set('2026-11-10T00:00:00Z');
    const payload = transactionPayload({ transactionId: '710', purchaseDate: at('2026-11-01T00:00:00Z') });
    await postTransaction(t, 'u-old', payload);
    time.set('2026-11-11T12:00:00Z');
    const response = await postTransaction(t, 'u-new', payload);

    expect(response.statusCode).toBe(200);
    expect(response.json().entitlements).toHaveLength(1);
    expect((await getEntitlements(t, 'u-old')).json().entitlements).toEqual([]);
    const [event] = await t.deps.database.db
      .select()
      .from(purchaseLinkEvents)
      .where(eq(purchaseLinkEvents.originalTransactionId, '710'))
      .orderBy(desc(purchaseLinkEvents.id))
      .limit(1);
    expect(event).toMatchObject({ fromUserId: 'u-old', toUserId: 'u-new', reason: 'transfer', at: new Date('2026-11-11T12:00:00Z') });
  });

  it('refuses a purchase linked to another user with 409 ALREADY_LINKED under TRANSFER_POLICY=keep', async () => {
    const payload = transactionPayload({ transactionId: '720', purchaseDate: at('2026-11-01T00:00:00Z') });
    expect((await postTransaction(keep, 'u-first', payload)).statusCode).toBe(200);
    const response = await postTransaction(keep, 'u-second', payload);

    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('ALREADY_LINKED');
    expect(await ownerOf(keep, '720')).toBe('u-first');
    expect((await postTransaction(keep, 'u-first', payload)).statusCode).toBe(200);
  });

  it("refuses a transaction whose appAccountToken is another user's with 409, even under TRANSFER_POLICY=keep", async () => {
    const response = await postTransaction(
      keep,
      'u-poster',
      transactionPayload({ transactionId: '721', appAccountToken: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }),
    );
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('TOKEN_BELONGS_TO_OTHER_USER');
    expect(await ownerOf(keep, '721')).toBeUndefined();
  });

  it('fetches a transaction by id from Production, then Sandbox when Production does not know it', async () => {
    time.set('2026-11-10T00:00:00Z');
    const signed = t.pki.sign(transactionPayload({ transactionId: '730', purchaseDate: at('2026-11-01T00:00:00Z') }));
    apple.double.reply(
      'GET',
      '/inApps/v1/transactions/730',
      { status: 404, body: { errorCode: 4040010, errorMessage: 'Transaction id not found.' } },
      { body: { signedTransactionInfo: signed } },
    );
    const response = await t.app.inject({ method: 'POST', url: '/users/u-by-id/transactions', headers: authHeader(), payload: { transactionId: '730' } });

    expect(response.statusCode).toBe(200);
    expect(response.json().entitlements[0]).toMatchObject({ transactionId: '730', environment: 'Sandbox' });
    expect(apple.double.requests.filter((r) => r.path === '/inApps/v1/transactions/730')).toHaveLength(2);
  });

  it('answers 400 TRANSACTION_NOT_FOUND when neither environment knows the id', async () => {
    apple.double.reply('GET', '/inApps/v1/transactions/731', { status: 404, body: { errorCode: 4040010, errorMessage: 'Transaction id not found.' } });
    const response = await t.app.inject({ method: 'POST', url: '/users/u-by-id/transactions', headers: authHeader(), payload: { transactionId: '731' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('TRANSACTION_NOT_FOUND');
  });

  it("answers 503 APP_STORE_UNAVAILABLE, not TRANSACTION_NOT_FOUND, when Apple's not-found answer says to try again", async () => {
    apple.double.reply('GET', '/inApps/v1/transactions/736', {
      status: 404,
      body: { errorCode: 4040002, errorMessage: 'Account not found. Please try again.' },
    });
    const response = await t.app.inject({ method: 'POST', url: '/users/u-retry/transactions', headers: authHeader(), payload: { transactionId: '736' } });
    expect([response.statusCode, response.json().error.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);
    expect(await ownerOf(t, '736')).toBeUndefined();
  });

  it('answers 502 APP_STORE_ERROR, not INVALID_TRANSACTION_ID, when Apple says the app itself is unknown (our configuration)', async () => {
    apple.double.reply('GET', '/inApps/v1/transactions/737', { status: 404, body: { errorCode: 4040003, errorMessage: 'App not found.' } });
    const response = await t.app.inject({ method: 'POST', url: '/users/u-1/transactions', headers: authHeader(), payload: { transactionId: '737' } });
    expect([response.statusCode, response.json().error.code]).toEqual([502, 'APP_STORE_ERROR']);
  });

  it('answers 400 API_NOT_CONFIGURED for a transaction id without App Store Server API credentials', async () => {
    const response = await keep.app.inject({ method: 'POST', url: '/users/u-1/transactions', headers: authHeader(), payload: { transactionId: '732' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_NOT_CONFIGURED');
  });

  it('answers 400 INVALID_TRANSACTION_ID when Apple refuses the id, and 502 APP_STORE_BAD_RESPONSE for an answer without a transaction', async () => {
    apple.double.reply('GET', '/inApps/v1/transactions/734', { status: 400, body: { errorCode: 4000006, errorMessage: 'Invalid transaction id.' } });
    apple.double.reply('GET', '/inApps/v1/transactions/735', { body: {} });
    const refused = await t.app.inject({ method: 'POST', url: '/users/u-1/transactions', headers: authHeader(), payload: { transactionId: '734' } });
    const empty = await t.app.inject({ method: 'POST', url: '/users/u-1/transactions', headers: authHeader(), payload: { transactionId: '735' } });
    expect([refused.statusCode, refused.json().error.code]).toEqual([400, 'INVALID_TRANSACTION_ID']);
    expect([empty.statusCode, empty.json().error.code]).toEqual([502, 'APP_STORE_BAD_RESPONSE']);
  });

  it('answers 503 APP_STORE_UNAVAILABLE when the App Store Server API does not answer in time', async () => {
    apple.double.reply('GET', '/inApps/v1/transactions/733', { delayMs: 5_000, body: {} });
    const response = await t.app.inject({ method: 'POST', url: '/users/u-1/transactions', headers: authHeader(), payload: { transactionId: '733' } });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('APP_STORE_UNAVAILABLE');
  });

  it("lists the user's transactions newest purchase first, in stable pages that join up", async () => {
    const user = 'u-list';
    const start = at('2026-01-01T00:00:00Z');
    // Five renewals of one subscription plus a second purchase sharing a purchaseDate with one of them.
    for (let i = 0; i < 5; i++) {
      const payload = transactionPayload({
        transactionId: `74${i}`,
        originalTransactionId: '740',
        purchaseDate: start + days(30 * i),
        originalPurchaseDate: start,
        signedDate: start + days(30 * i) + 1000,
      });
      expect((await postTransaction(t, user, payload)).statusCode).toBe(200);
    }
    await postTransaction(
      t,
      user,
      transactionPayload({
        transactionId: '749',
        productId: 'com.example.lifetime',
        type: 'Non-Consumable',
        expiresDate: undefined,
        purchaseDate: start + days(60),
        revocationDate: start + days(70),
        revocationReason: 1,
      }),
    );

    const seen: Array<{ transactionId: string; purchaseDate: string }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const response = await t.app.inject({ method: 'GET', url: `/users/${user}/transactions${query}`, headers: authHeader() });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.userId).toBe(user);
      seen.push(...body.transactions);
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);

    expect(pages).toBe(3);
    expect(seen.map((row) => row.transactionId)).toEqual(['744', '743', '749', '742', '741', '740']);
    expect(seen[2]).toEqual({
      transactionId: '749',
      originalTransactionId: '749',
      productId: 'com.example.lifetime',
      productType: 'Non-Consumable',
      environment: 'Sandbox',
      purchaseDate: new Date(start + days(60)).toISOString(),
      expiresDate: null,
      revocationDate: new Date(start + days(70)).toISOString(),
      revocationReason: 1,
      ownershipType: 'PURCHASED',
      appAccountToken: null,
    });
  });

  it('answers 400 INVALID_CURSOR for a cursor it did not hand out, and 400 for a limit over 200', async () => {
    const bad = await t.app.inject({ method: 'GET', url: '/users/u-list/transactions?cursor=bm9wZQ', headers: authHeader() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('INVALID_CURSOR');
    const tooMany = await t.app.inject({ method: 'GET', url: '/users/u-list/transactions?limit=201', headers: authHeader() });
    expect(tooMany.statusCode).toBe(400);
  });

  it('gives an unknown user an empty first and last page', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/users/nobody/transactions', headers: authHeader() });
    expect(response.json()).toEqual({ userId: 'nobody', transactions: [], nextCursor: null });
  });
});
