import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { transactions } from '../../src/db/schema.js';
import { at, getEntitlements, manualClock, postTransaction, renewedStatusesAnswer, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { authHeader, TEST_ADMIN_KEY, TEST_API_KEY } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';

const ADMIN = authHeader(TEST_ADMIN_KEY);
const refreshUrl = (userId: string) => `/admin/users/${encodeURIComponent(userId)}/refresh`;

describe(`POST /admin/users/:userId/refresh (${backendName})`, () => {
  const time = manualClock('2026-12-10T00:00:00Z');
  const apple = useAppStoreApiDouble();
  const shared = useDatabaseAndPki();
  const connected = useTestApp(() => ({ clock: time.clock, pki: shared.pki, database: shared.database, overrides: { appStoreApi: apple.client() } }));
  const unreachable = useTestApp(() => ({
    clock: time.clock,
    pki: shared.pki,
    database: shared.database,
    overrides: { appStoreApi: apple.client({ baseUrl: 'http://127.0.0.1:1' }) },
  }));
  const unconfigured = useTestApp(() => ({ clock: time.clock, pki: shared.pki, database: shared.database }));
  afterEach(() => {
    apple.double.reset();
    apple.double.requests.length = 0;
  });
  const appleReads = () => apple.double.requests.filter((r) => r.method === 'GET');

  /** Apple's Get All Subscription Statuses answer: the renewal that happened, signed now. */
  const renewedAnswer = (originalTransactionId: string, renewalId: string) =>
    renewedStatusesAnswer(shared.pki, originalTransactionId, renewalId, at('2026-12-10T00:00:00Z'));

  const storedTransactionIds = async (originalTransactionId: string) =>
    (
      await shared.database.handle.db
        .select({ id: transactions.transactionId })
        .from(transactions)
        .where(eq(transactions.originalTransactionId, originalTransactionId))
    )
      .map((row) => row.id)
      .sort();

  it("asks Apple, records the answer and answers the user's entitlements in the shape GET /entitlements uses", async () => {
    await postTransaction(connected, 'u-admin-refresh', transactionPayload({ transactionId: '900', purchaseDate: at('2026-11-01T00:00:00Z') }));
    apple.double.reply('GET', '/inApps/v1/subscriptions/900', { body: renewedAnswer('900', '901') });

    const response = await connected.app.inject({ method: 'POST', url: refreshUrl('u-admin-refresh'), headers: ADMIN });

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      userId: 'u-admin-refresh',
      entitlements: [{ status: 'active', transactionId: '901', expiresDate: '2027-01-01T00:00:00.000Z', willRenew: false }],
    });
    expect(appleReads().map((r) => r.path)).toEqual(['/inApps/v1/subscriptions/900']);
    expect(await storedTransactionIds('900')).toEqual(['900', '901']);
    // The app backend's read now gives the same answer without asking Apple again.
    const read = await getEntitlements(connected, 'u-admin-refresh');
    expect(read.json()).toEqual(response.json());
    expect(appleReads()).toHaveLength(1);
  });

  it('answers a user without subscriptions from stored data, asking Apple nothing', async () => {
    const response = await connected.app.inject({ method: 'POST', url: refreshUrl('u-admin-nobody'), headers: ADMIN });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ userId: 'u-admin-nobody', entitlements: [] });
    expect(appleReads()).toHaveLength(0);
  });

  it('answers 400 API_NOT_CONFIGURED without App Store Server API credentials, where ?refresh=true answers stored data', async () => {
    await postTransaction(unconfigured, 'u-admin-unconfigured', transactionPayload({ transactionId: '910', purchaseDate: at('2026-11-01T00:00:00Z') }));

    const response = await unconfigured.app.inject({ method: 'POST', url: refreshUrl('u-admin-unconfigured'), headers: ADMIN });

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_NOT_CONFIGURED');
    const read = await getEntitlements(unconfigured, 'u-admin-unconfigured', '?refresh=true');
    expect(read.statusCode).toBe(200);
    expect(read.json().entitlements[0]).toMatchObject({ transactionId: '910' });
  });

  it('answers 503 APP_STORE_UNAVAILABLE when the App Store cannot be reached, and stored data stays as it was', async () => {
    await postTransaction(unreachable, 'u-admin-away', transactionPayload({ transactionId: '920', purchaseDate: at('2026-11-01T00:00:00Z') }));

    const response = await unreachable.app.inject({ method: 'POST', url: refreshUrl('u-admin-away'), headers: ADMIN });

    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('APP_STORE_UNAVAILABLE');
    expect(await storedTransactionIds('920')).toEqual(['920']);
  });

  it('answers 503 APP_STORE_UNAVAILABLE when Apple fails on its side', async () => {
    await postTransaction(connected, 'u-admin-apple-500', transactionPayload({ transactionId: '930', purchaseDate: at('2026-11-01T00:00:00Z') }));
    apple.double.reply('GET', '/inApps/v1/subscriptions/930', { status: 500, body: { errorCode: 5000000, errorMessage: 'An unknown error occurred.' } });

    const response = await connected.app.inject({ method: 'POST', url: refreshUrl('u-admin-apple-500'), headers: ADMIN });

    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('APP_STORE_UNAVAILABLE');
  });

  it('answers 502 APP_STORE_UNAUTHORIZED when Apple refuses the credentials', async () => {
    await postTransaction(connected, 'u-admin-apple-401', transactionPayload({ transactionId: '940', purchaseDate: at('2026-11-01T00:00:00Z') }));
    apple.double.reply('GET', '/inApps/v1/subscriptions/940', { status: 401 });

    const response = await connected.app.inject({ method: 'POST', url: refreshUrl('u-admin-apple-401'), headers: ADMIN });

    expect(response.statusCode).toBe(502);
    expect(response.json().error.code).toBe('APP_STORE_UNAUTHORIZED');
  });

  it('answers 401 without a key and 403 with an app key, asking Apple nothing', async () => {
    const without = await connected.app.inject({ method: 'POST', url: refreshUrl('u-admin-refresh') });
    const appKey = await connected.app.inject({ method: 'POST', url: refreshUrl('u-admin-refresh'), headers: authHeader(TEST_API_KEY) });
    expect([without.statusCode, appKey.statusCode]).toEqual([401, 403]);
    expect(appKey.json().error.code).toBe('FORBIDDEN');
    expect(appleReads()).toHaveLength(0);
  });
});
