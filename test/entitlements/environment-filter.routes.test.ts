import { afterEach, describe, expect, it } from 'vitest';
import { backendName } from '../helpers/database.js';
import { useAppStoreApiDouble, useTestApp } from '../helpers/fixtures.js';
import { at, getEntitlements, LIFETIME, MONTHLY, manualClock, postTransaction, transactionPayload, YEARLY } from './app-backend-fixtures.js';

// SPEC: `?environment=Production` (or `Sandbox`) answers from purchases of that environment
// only; without it both count; another value is 400.

describe(`GET /entitlements/:userId?environment= (${backendName})`, () => {
  const time = manualClock('2026-11-10T00:00:00Z');
  const apple = useAppStoreApiDouble();
  const t = useTestApp(() => ({ clock: time.clock, overrides: { appStoreApi: apple.client() } }));
  afterEach(() => {
    apple.double.reset();
    apple.double.requests.length = 0;
  });
  // Reads only: linking also asks Apple, in the background, to set the user's appAccountToken (a PUT).
  const appleReads = () => apple.double.requests.filter((r) => r.method === 'GET');

  const entitlementsOf = async (userId: string, query = '') => {
    const response = await getEntitlements(t, userId, query);
    expect(response.statusCode).toBe(200);
    return (response.json() as { entitlements: { entitlement: string; environment: string; transactionId: string }[] }).entitlements;
  };

  it('answers from purchases of the asked environment only, and from both without the parameter', async () => {
    time.set('2026-11-10T00:00:00Z');
    const userId = 'u-env-both';
    await postTransaction(t, userId, transactionPayload({ transactionId: '5100', productId: MONTHLY, environment: 'Production' }));
    await postTransaction(
      t,
      userId,
      transactionPayload({ transactionId: '5200', productId: YEARLY, environment: 'Sandbox', expiresDate: at('2027-11-01T10:00:00Z') }),
    );

    expect((await entitlementsOf(userId)).map((e) => [e.entitlement, e.environment])).toEqual([
      [MONTHLY, 'Production'],
      [YEARLY, 'Sandbox'],
    ]);
    expect((await entitlementsOf(userId, '?environment=Production')).map((e) => [e.entitlement, e.environment])).toEqual([[MONTHLY, 'Production']]);
    expect((await entitlementsOf(userId, '?environment=Sandbox')).map((e) => [e.entitlement, e.environment])).toEqual([[YEARLY, 'Sandbox']]);
  });

  it('answers the Sandbox purchase of an entitlement for environment=Sandbox even where the Production one ranks first', async () => {
    time.set('2026-11-10T00:00:00Z');
    const userId = 'u-env-same-product';
    // Of two lifetime purchases the later one ranks first: the Production one here.
    await postTransaction(
      t,
      userId,
      transactionPayload({
        transactionId: '5300',
        productId: LIFETIME,
        type: 'Non-Consumable',
        expiresDate: undefined,
        environment: 'Production',
        purchaseDate: at('2026-11-05T10:00:00Z'),
      }),
    );
    await postTransaction(
      t,
      userId,
      transactionPayload({ transactionId: '5301', productId: LIFETIME, type: 'Non-Consumable', expiresDate: undefined, environment: 'Sandbox' }),
    );

    expect((await entitlementsOf(userId)).map((e) => e.transactionId)).toEqual(['5300']);
    expect((await entitlementsOf(userId, '?environment=Sandbox')).map((e) => e.transactionId)).toEqual(['5301']);
    expect((await entitlementsOf(userId, '?environment=Production')).map((e) => e.transactionId)).toEqual(['5300']);
  });

  it('answers an empty list when the user has purchases of the other environment only', async () => {
    time.set('2026-11-10T00:00:00Z');
    const userId = 'u-env-sandbox-only';
    await postTransaction(t, userId, transactionPayload({ transactionId: '5400', environment: 'Sandbox' }));

    expect(await entitlementsOf(userId, '?environment=Production')).toEqual([]);
  });

  it.each(['Xcode', 'LocalTesting', 'production', 'PROD', ''])('answers 400 VALIDATION_ERROR for environment=%s', async (value) => {
    const response = await getEntitlements(t, 'u-env-bad', `?environment=${encodeURIComponent(value)}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('environment') as unknown } });
  });

  it('with refresh=true asks the App Store only about purchases of the asked environment', async () => {
    time.set('2026-11-10T00:00:00Z');
    const userId = 'u-env-refresh';
    await postTransaction(t, userId, transactionPayload({ transactionId: '5500', productId: MONTHLY, environment: 'Production' }));
    await postTransaction(t, userId, transactionPayload({ transactionId: '5600', productId: YEARLY, environment: 'Sandbox' }));
    apple.double.reply('GET', '/inApps/v1/subscriptions/5600', { status: 404, body: { errorCode: 4040010, errorMessage: 'Transaction id not found.' } });

    const response = await getEntitlements(t, userId, '?refresh=true&environment=Sandbox');

    expect(response.statusCode).toBe(200);
    expect((response.json() as { entitlements: { transactionId: string }[] }).entitlements.map((e) => e.transactionId)).toEqual(['5600']);
    expect(appleReads().map((r) => r.path)).toEqual(['/inApps/v1/subscriptions/5600']);
  });

  it("refreshes on its own for one environment even right after refreshing the other's purchases", async () => {
    time.set('2026-11-10T00:00:00Z');
    const userId = 'u-env-auto';
    await postTransaction(t, userId, transactionPayload({ transactionId: '5700', productId: MONTHLY, environment: 'Production' }));
    await postTransaction(t, userId, transactionPayload({ transactionId: '5800', productId: YEARLY, environment: 'Sandbox' }));
    time.set('2026-12-05T00:00:00Z'); // both periods ended with no news
    apple.double.reply('GET', '/inApps/v1/subscriptions/5800', { status: 404, body: { errorCode: 4040010, errorMessage: 'Transaction id not found.' } });
    apple.double.reply('GET', '/inApps/v1/subscriptions/5700', { status: 404, body: { errorCode: 4040010, errorMessage: 'Transaction id not found.' } });

    await entitlementsOf(userId, '?environment=Sandbox');
    await entitlementsOf(userId, '?environment=Production');

    expect(appleReads().map((r) => r.path)).toEqual(['/inApps/v1/subscriptions/5800', '/inApps/v1/subscriptions/5700']);
  });

  it('lists the environment parameter and every entitlement field in the OpenAPI document', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, { get?: { parameters?: { name: string; in: string; schema: unknown }[]; responses: Record<string, unknown> } }>;
    };
    const route = document.paths['/entitlements/{userId}']?.get;
    expect(route?.parameters).toContainEqual(
      expect.objectContaining({
        name: 'environment',
        in: 'query',
        schema: expect.objectContaining({
          anyOf: [
            { type: 'string', enum: ['Production'] },
            { type: 'string', enum: ['Sandbox'] },
          ],
        }),
      }),
    );
    const text = JSON.stringify(route?.responses['200']);
    for (const field of [
      'revocationType',
      'revocationPercentage',
      'periodType',
      'offerIdentifier',
      'price',
      'renewalPrice',
      'renewalCurrency',
      'renewalDate',
      'expirationIntent',
      'priceIncreaseStatus',
      'source',
    ]) {
      expect(text).toContain(`"${field}"`);
    }
  });
});
