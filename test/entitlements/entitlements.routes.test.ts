import { describe, expect, it } from 'vitest';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import {
  at,
  COINS,
  days,
  getEntitlements,
  LIFETIME,
  MONTHLY,
  manualClock,
  postTransaction,
  renewalPayload,
  storeSigned,
  transactionPayload,
  YEARLY,
} from './app-backend-fixtures.js';

describe(`GET /entitlements/:userId (${backendName})`, () => {
  // One app per file (and one with an entitlements file): every test uses its own user
  // and transaction ids, and sets the shared clock first.
  const time = manualClock('2026-11-10T00:00:00Z');
  const proMap = parseEntitlementsFile(JSON.stringify({ entitlements: { pro: [MONTHLY, YEARLY, LIFETIME] } }));
  const t = useTestApp({ clock: time.clock });
  const mapped = useTestApp(() => ({ clock: time.clock, pki: t.pki, overrides: { entitlementMap: proMap } }));

  it('answers exactly the documented shape for an active subscription', async () => {
    time.set('2026-11-10T00:00:00Z');
    const first = transactionPayload({
      transactionId: '2000000000000001',
      purchaseDate: at('2026-05-01T10:00:00Z'),
      expiresDate: at('2026-06-01T10:00:00Z'),
      signedDate: at('2026-05-01T10:00:01Z'),
    });
    const latest = transactionPayload({
      transactionId: '2000000000000007',
      originalTransactionId: '2000000000000001',
      purchaseDate: at('2026-11-01T10:00:00Z'),
      originalPurchaseDate: at('2026-05-01T10:00:00Z'),
      expiresDate: at('2026-12-01T10:00:00Z'),
      signedDate: at('2026-11-01T10:00:05Z'),
      price: 9990,
      currency: 'USD',
    });
    expect((await postTransaction(t, 'u-42', first)).statusCode).toBe(200);
    await storeSigned(t, {
      transactions: [latest],
      renewal: renewalPayload({
        originalTransactionId: '2000000000000001',
        signedDate: at('2026-11-01T10:00:05Z'),
        renewalPrice: 9990,
        currency: 'USD',
        renewalDate: at('2026-12-01T10:00:00Z'),
      }),
    });

    const response = await getEntitlements(t, 'u-42');

    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({
      userId: 'u-42',
      entitlements: [
        {
          entitlement: MONTHLY,
          active: true,
          status: 'active',
          productId: MONTHLY,
          productType: 'Auto-Renewable Subscription',
          environment: 'Sandbox',
          originalTransactionId: '2000000000000001',
          transactionId: '2000000000000007',
          purchaseDate: '2026-11-01T10:00:00.000Z',
          originalPurchaseDate: '2026-05-01T10:00:00.000Z',
          expiresDate: '2026-12-01T10:00:00.000Z',
          gracePeriodExpiresDate: null,
          willRenew: true,
          autoRenewProductId: MONTHLY,
          ownershipType: 'PURCHASED',
          revocationDate: null,
          revocationReason: null,
          revocationType: null,
          revocationPercentage: null,
          periodType: 'normal',
          offerIdentifier: null,
          price: 9990,
          currency: 'USD',
          renewalPrice: 9990,
          renewalCurrency: 'USD',
          renewalDate: '2026-12-01T10:00:00.000Z',
          expirationIntent: null,
          priceIncreaseStatus: null,
          source: 'app_store',
          updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        },
      ],
    });
    expect(Object.keys(body.entitlements[0])).toEqual([
      'entitlement',
      'active',
      'status',
      'productId',
      'productType',
      'environment',
      'originalTransactionId',
      'transactionId',
      'purchaseDate',
      'originalPurchaseDate',
      'expiresDate',
      'gracePeriodExpiresDate',
      'willRenew',
      'autoRenewProductId',
      'ownershipType',
      'revocationDate',
      'revocationReason',
      'revocationType',
      'revocationPercentage',
      'periodType',
      'offerIdentifier',
      'price',
      'currency',
      'renewalPrice',
      'renewalCurrency',
      'renewalDate',
      'expirationIntent',
      'priceIncreaseStatus',
      'source',
      'updatedAt',
    ]);
  });

  it('answers 401 without a valid API key', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/entitlements/u-2', headers: { authorization: 'Bearer nope' } });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
  });

  it('gives an unknown user 200 with an empty list', async () => {
    const response = await getEntitlements(t, 'nobody');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ userId: 'nobody', entitlements: [] });
  });

  it('evaluates status at request time: a period that has ended is expired without any notification', async () => {
    time.set('2026-11-10T00:00:00Z');
    await postTransaction(t, 'u-4', transactionPayload({ transactionId: '10', purchaseDate: at('2026-11-01T00:00:00Z') }));

    expect((await getEntitlements(t, 'u-4')).json().entitlements[0]).toMatchObject({ status: 'active', active: true });
    time.set('2026-12-02T00:00:00Z');
    expect((await getEntitlements(t, 'u-4')).json().entitlements[0]).toMatchObject({ status: 'expired', active: false });
  });

  it('keeps access during a billing grace period and reports its end', async () => {
    time.set('2026-12-03T00:00:00Z');
    await postTransaction(t, 'u-5', transactionPayload({ transactionId: '20', purchaseDate: at('2026-11-01T00:00:00Z') }));
    await storeSigned(t, {
      renewal: renewalPayload({
        originalTransactionId: '20',
        isInBillingRetryPeriod: true,
        gracePeriodExpiresDate: at('2026-12-07T00:00:00Z'),
        signedDate: at('2026-12-01T00:00:10Z'),
      }),
      status: { originalTransactionId: '20', appleStatus: 4, signedDate: at('2026-12-01T00:00:10Z') },
    });

    expect((await getEntitlements(t, 'u-5')).json().entitlements[0]).toMatchObject({
      status: 'grace_period',
      active: true,
      gracePeriodExpiresDate: '2026-12-07T00:00:00.000Z',
    });
    time.set('2026-12-08T00:00:00Z');
    expect((await getEntitlements(t, 'u-5')).json().entitlements[0]).toMatchObject({ status: 'billing_retry', active: false });
  });

  it('does not end access when an older transaction of the subscription is refunded', async () => {
    time.set('2026-12-15T00:00:00Z');
    const older = transactionPayload({ transactionId: '30', purchaseDate: at('2026-11-01T00:00:00Z') });
    await postTransaction(t, 'u-6', older);
    await storeSigned(t, {
      transactions: [
        transactionPayload({
          transactionId: '31',
          originalTransactionId: '30',
          purchaseDate: at('2026-12-01T00:00:00Z'),
          originalPurchaseDate: older.purchaseDate,
        }),
        { ...older, revocationDate: at('2026-12-10T00:00:00Z'), revocationReason: 0, signedDate: at('2026-12-10T00:00:00Z') },
      ],
    });

    expect((await getEntitlements(t, 'u-6')).json().entitlements[0]).toMatchObject({ status: 'active', transactionId: '31', revocationDate: null });
  });

  it('revokes access when the newest transaction is refunded', async () => {
    time.set('2026-12-15T00:00:00Z');
    await postTransaction(t, 'u-7', transactionPayload({ transactionId: '40', purchaseDate: at('2026-12-01T00:00:00Z') }));
    await storeSigned(t, {
      transactions: [
        transactionPayload({
          transactionId: '40',
          purchaseDate: at('2026-12-01T00:00:00Z'),
          revocationDate: at('2026-12-10T00:00:00Z'),
          revocationReason: 1,
          signedDate: at('2026-12-10T00:00:00Z'),
        }),
      ],
    });

    expect((await getEntitlements(t, 'u-7')).json().entitlements[0]).toMatchObject({
      status: 'revoked',
      active: false,
      revocationDate: '2026-12-10T00:00:00.000Z',
    });
  });

  it('collapses products mapped to one entitlement to the best purchase and lists unmapped products under their own id', async () => {
    time.set('2026-12-15T00:00:00Z');
    // An expired monthly, an active yearly, and a product the file does not name.
    await postTransaction(mapped, 'u-8', transactionPayload({ transactionId: '50', purchaseDate: at('2026-10-01T00:00:00Z') }));
    await postTransaction(
      mapped,
      'u-8',
      transactionPayload({ transactionId: '51', productId: YEARLY, purchaseDate: at('2026-06-01T00:00:00Z'), expiresDate: at('2027-06-01T00:00:00Z') }),
    );
    await postTransaction(
      mapped,
      'u-8',
      transactionPayload({ transactionId: '52', productId: 'com.example.themes', type: 'Non-Consumable', expiresDate: undefined }),
    );

    const { entitlements } = (await getEntitlements(mapped, 'u-8')).json();

    expect(entitlements.map((e: { entitlement: string }) => e.entitlement)).toEqual(['com.example.themes', 'pro']);
    expect(entitlements[1]).toMatchObject({ entitlement: 'pro', productId: YEARLY, transactionId: '51', status: 'active' });
    expect(entitlements[0]).toMatchObject({ productId: 'com.example.themes', status: 'active', expiresDate: null, willRenew: null });
  });

  it('prefers a lifetime purchase over a subscription with a later expiry when both grant the entitlement', async () => {
    time.set('2026-12-15T00:00:00Z');
    await postTransaction(mapped, 'u-9', transactionPayload({ transactionId: '60', purchaseDate: at('2026-12-10T00:00:00Z') }));
    await postTransaction(
      mapped,
      'u-9',
      transactionPayload({
        transactionId: '61',
        productId: LIFETIME,
        type: 'Non-Consumable',
        expiresDate: undefined,
        purchaseDate: at('2025-01-01T00:00:00Z'),
      }),
    );

    const { entitlements } = (await getEntitlements(mapped, 'u-9')).json();
    expect(entitlements).toHaveLength(1);
    expect(entitlements[0]).toMatchObject({ entitlement: 'pro', productId: LIFETIME, expiresDate: null });
  });

  it('leaves consumables out of the entitlements', async () => {
    const response = await postTransaction(
      t,
      'u-10',
      transactionPayload({ transactionId: '70', productId: COINS, type: 'Consumable', expiresDate: undefined }),
    );
    expect(response.statusCode).toBe(200);
    expect((await getEntitlements(t, 'u-10')).json().entitlements).toEqual([]);
  });

  it('answers a UUID user id in any letter case with the same entitlements', async () => {
    time.set('2026-11-10T00:00:00Z');
    const id = '8F1C2B3A-1111-4222-8333-944455556666';
    await postTransaction(t, id, transactionPayload({ transactionId: '80', purchaseDate: at('2026-11-01T00:00:00Z') }));

    const upper = (await getEntitlements(t, id)).json();
    const lower = (await getEntitlements(t, id.toLowerCase())).json();
    expect(upper.entitlements).toHaveLength(1);
    expect(lower).toEqual(upper);
    expect(lower.userId).toBe(id.toLowerCase());
  });

  it("reports updatedAt as the service clock's time of the latest change of the rows behind the entry", async () => {
    time.set('2026-11-10T00:00:00Z');
    await postTransaction(t, 'u-12', transactionPayload({ transactionId: '90', purchaseDate: at('2026-11-01T00:00:00Z') }));
    expect((await getEntitlements(t, 'u-12')).json().entitlements[0].updatedAt).toBe('2026-11-10T00:00:00.000Z');

    time.set('2026-11-10T00:00:07Z');
    await storeSigned(t, { renewal: renewalPayload({ originalTransactionId: '90', autoRenewStatus: 0, signedDate: at('2026-11-05T00:00:00Z') }) });
    const after = (await getEntitlements(t, 'u-12')).json().entitlements[0];
    expect(after.willRenew).toBe(false);
    expect(after.updatedAt).toBe('2026-11-10T00:00:07.000Z');
  });

  it('answers a refresh request without App Store credentials from stored data and no stale header', async () => {
    const response = await getEntitlements(t, 'u-13', '?refresh=true');
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-entitlements-stale']).toBeUndefined();
  });

  void days;
});
