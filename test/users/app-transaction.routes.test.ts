import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { AppTransaction } from '../../src/apple/types.js';
import { appTransactions } from '../../src/db/schema.js';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { at, getEntitlements, MONTHLY, manualClock, postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { eventsDuring } from '../events/support.js';
import { authHeader, TEST_APP_APPLE_ID, TEST_BUNDLE_ID, type TestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp, useTestPki } from '../helpers/fixtures.js';
import { createTestPki } from '../helpers/pki.js';

function appTransactionPayload(overrides: Partial<AppTransaction> = {}): AppTransaction {
  return {
    receiptType: 'Sandbox',
    environment: 'Sandbox',
    appAppleId: TEST_APP_APPLE_ID,
    bundleId: TEST_BUNDLE_ID,
    applicationVersion: '3.2',
    originalApplicationVersion: '1.9',
    originalPurchaseDate: at('2024-03-01T12:00:00Z'),
    receiptCreationDate: at('2026-11-30T00:00:00Z'),
    appTransactionId: '704289572311573921',
    originalPlatform: 'iOS',
    signedDate: at('2026-11-30T00:00:00Z'),
    ...overrides,
  };
}

describe(`POST /users/:userId/app-transaction (${backendName})`, () => {
  const time = manualClock('2026-12-01T10:00:00Z');
  const trusted = useTestPki();
  // Bought before 1.10: 1.9 qualifies, 1.10 does not (dot-separated numbers, not text).
  const catalog = parseEntitlementsFile(JSON.stringify({ entitlements: { pro: [MONTHLY] }, appPurchase: { entitlement: 'pro', beforeVersion: '1.10' } }));
  const t = useTestApp(() => ({ clock: time.clock, pki: trusted.pki, overrides: { entitlementMap: catalog } }));
  const plain = useTestApp(() => ({ clock: time.clock, pki: trusted.pki }));

  const post = (app: TestApp, userId: string, signedAppTransaction: string) =>
    app.app.inject({ method: 'POST', url: `/users/${encodeURIComponent(userId)}/app-transaction`, headers: authHeader(), payload: { signedAppTransaction } });
  const stored = async (userId: string) => (await t.database.handle.db.select().from(appTransactions).where(eq(appTransactions.userId, userId)))[0];

  it('stores the verified AppTransaction and answers the appPurchase entitlement for life, every field present', async () => {
    const jws = trusted.pki.sign(appTransactionPayload());
    const response = await post(t, 'a-user-1', jws);

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      userId: 'a-user-1',
      entitlements: [
        {
          entitlement: 'pro',
          active: true,
          status: 'active',
          productId: null,
          productType: null,
          environment: 'Sandbox',
          originalTransactionId: null,
          transactionId: null,
          purchaseDate: '2024-03-01T12:00:00.000Z',
          originalPurchaseDate: '2024-03-01T12:00:00.000Z',
          expiresDate: null,
          gracePeriodExpiresDate: null,
          willRenew: null,
          autoRenewProductId: null,
          ownershipType: null,
          revocationDate: null,
          revocationReason: null,
          revocationType: null,
          revocationPercentage: null,
          periodType: null,
          offerIdentifier: null,
          price: null,
          currency: null,
          renewalPrice: null,
          renewalCurrency: null,
          renewalDate: null,
          expirationIntent: null,
          priceIncreaseStatus: null,
          source: 'app_purchase',
          updatedAt: '2026-12-01T10:00:00.000Z',
        },
      ],
    });
    expect(await stored('a-user-1')).toMatchObject({
      appTransactionId: '704289572311573921',
      bundleId: TEST_BUNDLE_ID,
      environment: 'Sandbox',
      originalApplicationVersion: '1.9',
      originalPurchaseDate: new Date('2024-03-01T12:00:00Z'),
      signedDate: new Date('2026-11-30T00:00:00Z'),
      signedAppTransaction: jws,
    });
    // Years later it still holds.
    time.set('2036-01-01T00:00:00Z');
    expect((await getEntitlements(t, 'a-user-1')).json().entitlements).toMatchObject([{ source: 'app_purchase', status: 'active' }]);
    time.set('2026-12-01T10:00:00Z');
  });

  it('compares versions as dot-separated numbers: 1.10 and 2.0 are not before 1.10, 1.9.9 and 1 are', async () => {
    const cases: Array<[string, boolean]> = [
      ['1.10', false],
      ['2.0', false],
      ['1.10.0', false],
      ['1.9.9', true],
      ['1', true],
    ];
    for (const [version, holds] of cases) {
      const userId = `a-version-${version}`;
      const response = await post(t, userId, trusted.pki.sign(appTransactionPayload({ originalApplicationVersion: version })));
      expect(response.statusCode, version).toBe(200);
      expect(response.json().entitlements.length, version).toBe(holds ? 1 : 0);
    }
  });

  it('gives nothing without a catalog appPurchase rule, but still stores the AppTransaction', async () => {
    const response = await post(plain, 'a-plain', trusted.pki.sign(appTransactionPayload()));
    expect(response.statusCode).toBe(200);
    expect(response.json().entitlements).toEqual([]);
    const [row] = await plain.database.handle.db.select().from(appTransactions).where(eq(appTransactions.userId, 'a-plain'));
    expect(row?.originalApplicationVersion).toBe('1.9');
  });

  it('answers 400 with the verifier code for a bad signature or another app, and stores nothing', async () => {
    const stranger = await createTestPki();
    const untrusted = await post(t, 'a-bad', stranger.sign(appTransactionPayload()));
    expect(untrusted.statusCode).toBe(400);
    expect(untrusted.json().error.code).toBe('UNTRUSTED_ROOT');

    const [header, payload] = trusted.pki.sign(appTransactionPayload()).split('.');
    const forged = `${header}.${payload}.${Buffer.alloc(64, 1).toString('base64url')}`;
    const badSignature = await post(t, 'a-bad', forged);
    expect(badSignature.statusCode).toBe(400);
    expect(badSignature.json().error.code).toBe('INVALID_SIGNATURE');

    const otherApp = await post(t, 'a-bad', trusted.pki.sign(appTransactionPayload({ bundleId: 'com.example.other' })));
    expect(otherApp.statusCode).toBe(400);
    expect(otherApp.json().error.code).toBe('WRONG_BUNDLE_ID');
    expect(await stored('a-bad')).toBeUndefined();
  });

  it('refuses a future-dated AppTransaction with 400 FUTURE_DATED', async () => {
    const response = await post(t, 'a-future', trusted.pki.sign(appTransactionPayload({ signedDate: at('2026-12-01T10:05:00Z') })));
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('FUTURE_DATED');
    expect(await stored('a-future')).toBeUndefined();
  });

  it('replaces the stored AppTransaction only with a newer signedDate', async () => {
    await post(t, 'a-replace', trusted.pki.sign(appTransactionPayload({ originalApplicationVersion: '2.0', signedDate: at('2026-11-30T00:00:00Z') })));
    const older = await post(
      t,
      'a-replace',
      trusted.pki.sign(appTransactionPayload({ originalApplicationVersion: '1.0', signedDate: at('2026-11-29T00:00:00Z') })),
    );
    expect(older.statusCode).toBe(200);
    expect(older.json().entitlements).toEqual([]);
    expect((await stored('a-replace'))?.originalApplicationVersion).toBe('2.0');

    const newer = await post(
      t,
      'a-replace',
      trusted.pki.sign(appTransactionPayload({ originalApplicationVersion: '1.0', signedDate: at('2026-12-01T00:00:00Z') })),
    );
    expect(newer.json().entitlements).toMatchObject([{ source: 'app_purchase' }]);
    expect((await stored('a-replace'))?.originalApplicationVersion).toBe('1.0');
  });

  it('shows an active App Store purchase of the same entitlement over the app purchase, and records entitlements.updated', async () => {
    const bought = await postTransaction(t, 'a-both', transactionPayload({ transactionId: '9200000000000001', purchaseDate: at('2026-11-20T10:00:00Z') }));
    expect(bought.json().entitlements).toMatchObject([{ source: 'app_store' }]);
    const events = await eventsDuring(t.database.handle.db, () => post(t, 'a-both', trusted.pki.sign(appTransactionPayload())));
    // The answer did not change (the purchase still shows): no event.
    expect(events).toEqual([]);
    expect((await getEntitlements(t, 'a-both')).json().entitlements).toMatchObject([{ source: 'app_store', productId: MONTHLY }]);

    const fresh = await eventsDuring(t.database.handle.db, () => post(t, 'a-events', trusted.pki.sign(appTransactionPayload())));
    expect(fresh.map((e) => [e.type, e.userId])).toEqual([['entitlements.updated', 'a-events']]);
    expect(fresh[0]!.data).toMatchObject({ previous: [], entitlements: [{ source: 'app_purchase' }] });
  });

  it('counts the AppTransaction under its own environment only with ?environment=', async () => {
    await post(t, 'a-env', trusted.pki.sign(appTransactionPayload()));
    expect((await getEntitlements(t, 'a-env', '?environment=Sandbox')).json().entitlements).toHaveLength(1);
    expect((await getEntitlements(t, 'a-env', '?environment=Production')).json().entitlements).toEqual([]);
  });
});
