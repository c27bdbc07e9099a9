import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { subscriptions, transactions } from '../../src/db/schema.js';
import { authHeader } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { DAY, deliver, MONTH, post, scenario, T0 } from '../notifications/support.js';
import { getEntitlements, manualClock } from './app-backend-fixtures.js';

// SPEC's entitlement fields beyond status and dates: the current period's offer, Apple's
// prices, the renewal terms and the revocation details, each `null` when unknown.

const iso = (ms: number) => new Date(ms).toISOString();

describe(`entitlement fields from Apple's signed data (${backendName})`, () => {
  const time = manualClock(iso(T0 + 10 * DAY));
  const t = useTestApp({ clock: time.clock });

  async function tokenOf(userId: string): Promise<string> {
    const response = await t.app.inject({ method: 'GET', url: `/users/${userId}/app-account-token`, headers: authHeader() });
    return (response.json() as { appAccountToken: string }).appAccountToken;
  }

  async function onlyEntitlement(userId: string, query = '') {
    const response = await getEntitlements(t, userId, query);
    expect(response.statusCode).toBe(200);
    const { entitlements } = response.json() as { entitlements: Record<string, unknown>[] };
    expect(entitlements).toHaveLength(1);
    return entitlements[0]!;
  }

  it('answers every field SPEC lists for a free trial, with its price and the renewal terms', async () => {
    time.set(iso(T0 + 2 * DAY));
    const userId = 'u-fields-trial';
    const s = scenario(t.pki);
    const token = await tokenOf(userId);
    await deliver(
      t.app,
      s.sign({
        type: 'SUBSCRIBED',
        subtype: 'INITIAL_BUY',
        signedDate: T0 + 1_000,
        transaction: {
          appAccountToken: token,
          offerType: 1,
          offerDiscountType: 'FREE_TRIAL',
          offerPeriod: 'P1W',
          price: 0,
          currency: 'EUR',
          expiresDate: T0 + 7 * DAY,
          appTransactionId: '704289572311136189',
        },
        renewal: {
          renewalPrice: 9990,
          currency: 'EUR',
          renewalDate: T0 + 7 * DAY,
          appTransactionId: '704289572311136189',
          eligibleWinBackOfferIds: ['win-back-1'],
        },
      }),
    );

    expect(await onlyEntitlement(userId)).toEqual({
      entitlement: s.productId,
      active: true,
      status: 'active',
      productId: s.productId,
      productType: 'Auto-Renewable Subscription',
      environment: 'Sandbox',
      originalTransactionId: s.originalTransactionId,
      transactionId: s.originalTransactionId,
      purchaseDate: iso(T0),
      originalPurchaseDate: iso(T0),
      expiresDate: iso(T0 + 7 * DAY),
      gracePeriodExpiresDate: null,
      willRenew: true,
      autoRenewProductId: s.productId,
      ownershipType: 'PURCHASED',
      revocationDate: null,
      revocationReason: null,
      revocationType: null,
      revocationPercentage: null,
      periodType: 'trial',
      offerIdentifier: null,
      price: 0,
      currency: 'EUR',
      renewalPrice: 9990,
      renewalCurrency: 'EUR',
      renewalDate: iso(T0 + 7 * DAY),
      expirationIntent: null,
      priceIncreaseStatus: null,
      source: 'app_store',
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
    });
    // What the answer does not show yet is kept too, for later questions (analytics, win-back).
    const db = t.deps.database.db;
    const [stored] = await db.select().from(transactions).where(eq(transactions.transactionId, s.originalTransactionId));
    expect(stored).toMatchObject({ offerType: 1, offerDiscountType: 'FREE_TRIAL', offerPeriod: 'P1W', appTransactionId: '704289572311136189' });
    const [subscription] = await db.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, s.originalTransactionId));
    expect(subscription).toMatchObject({
      renewalPrice: 9990,
      renewalCurrency: 'EUR',
      eligibleWinBackOfferIds: ['win-back-1'],
      appTransactionId: '704289572311136189',
    });
  });

  const offers = [
    { name: 'a pay-as-you-go introductory offer', fields: { offerType: 1, offerDiscountType: 'PAY_AS_YOU_GO' }, periodType: 'intro', offerIdentifier: null },
    { name: 'a pay-up-front introductory offer', fields: { offerType: 1, offerDiscountType: 'PAY_UP_FRONT' }, periodType: 'intro', offerIdentifier: null },
    {
      name: 'a promotional offer',
      fields: { offerType: 2, offerIdentifier: 'promo-50', offerDiscountType: 'PAY_AS_YOU_GO' },
      periodType: 'promotional',
      offerIdentifier: 'promo-50',
    },
    {
      name: 'a free promotional offer',
      fields: { offerType: 2, offerIdentifier: 'promo-free', offerDiscountType: 'FREE_TRIAL' },
      periodType: 'promotional',
      offerIdentifier: 'promo-free',
    },
    { name: 'an offer code', fields: { offerType: 3, offerIdentifier: 'SPRING26' }, periodType: 'offer_code', offerIdentifier: 'SPRING26' },
    { name: 'a win-back offer', fields: { offerType: 4, offerIdentifier: 'come-back' }, periodType: 'win_back', offerIdentifier: 'come-back' },
    { name: 'no offer', fields: {}, periodType: 'normal', offerIdentifier: null },
  ];
  it.each(offers)('answers periodType $periodType for $name', async ({ name, fields, periodType, offerIdentifier }) => {
    time.set(iso(T0 + 2 * DAY));
    const userId = `u-offer-${name.replace(/\W+/g, '-')}`;
    const s = scenario(t.pki);
    const token = await tokenOf(userId);
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 + 1_000, transaction: { appAccountToken: token, ...fields } }));

    expect(await onlyEntitlement(userId)).toMatchObject({ periodType, offerIdentifier, price: 4990, currency: 'USD' });
  });

  it('answers the period type of the current period, not of the first one', async () => {
    time.set(iso(T0 + MONTH + 2 * DAY));
    const userId = 'u-offer-then-normal';
    const s = scenario(t.pki);
    const token = await tokenOf(userId);
    await deliver(
      t.app,
      s.sign({
        type: 'SUBSCRIBED',
        subtype: 'INITIAL_BUY',
        signedDate: T0 + 1_000,
        transaction: { appAccountToken: token, offerType: 1, offerDiscountType: 'FREE_TRIAL', price: 0 },
      }),
    );
    await deliver(t.app, s.sign({ type: 'DID_RENEW', signedDate: T0 + MONTH + 1_000, period: 1, transaction: { appAccountToken: token, price: 9990 } }));

    expect(await onlyEntitlement(userId)).toMatchObject({ transactionId: s.transactionId(1), periodType: 'normal', price: 9990 });
  });

  it('answers the revocation reason, type and percentage of a refunded period', async () => {
    time.set(iso(T0 + 20 * DAY));
    const userId = 'u-refund-prorated';
    const s = scenario(t.pki);
    const token = await tokenOf(userId);
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 + 1_000, transaction: { appAccountToken: token } }));
    await deliver(
      t.app,
      s.sign({
        type: 'REFUND',
        signedDate: T0 + 15 * DAY,
        transaction: {
          appAccountToken: token,
          revocationDate: T0 + 15 * DAY,
          revocationReason: 1,
          revocationType: 'REFUND_PRORATED',
          revocationPercentage: 50_000,
        },
        renewal: { autoRenewStatus: 0 },
      }),
    );

    expect(await onlyEntitlement(userId)).toMatchObject({
      status: 'revoked',
      revocationDate: iso(T0 + 15 * DAY),
      revocationReason: 1,
      revocationType: 'REFUND_PRORATED',
      revocationPercentage: 50_000,
    });
  });

  it('answers why a subscription expired and whether a price increase was accepted', async () => {
    time.set(iso(T0 + MONTH + 2 * DAY));
    const userId = 'u-expired-intent';
    const s = scenario(t.pki);
    const token = await tokenOf(userId);
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 + 1_000, transaction: { appAccountToken: token } }));
    await deliver(
      t.app,
      s.sign({
        type: 'EXPIRED',
        subtype: 'PRICE_INCREASE',
        signedDate: T0 + MONTH + 1_000,
        period: null,
        renewal: { autoRenewStatus: 0, expirationIntent: 3, priceIncreaseStatus: 0, renewalPrice: 12_990, currency: 'USD' },
      }),
    );

    expect(await onlyEntitlement(userId)).toMatchObject({
      status: 'expired',
      willRenew: false,
      expirationIntent: 3,
      priceIncreaseStatus: 0,
      renewalPrice: 12_990,
      renewalCurrency: 'USD',
      renewalDate: null,
    });
  });

  it('answers every field, null when Apple did not say, for a non-consumable without a price', async () => {
    time.set(iso(T0 + 2 * DAY));
    const userId = 'u-lifetime-bare';
    const s = scenario(t.pki, { productId: 'com.example.lifetime' });
    const token = await tokenOf(userId);
    await deliver(
      t.app,
      s.sign({
        type: 'ONE_TIME_CHARGE',
        signedDate: T0 + 1_000,
        renewal: null,
        transaction: {
          appAccountToken: token,
          type: 'Non-Consumable',
          expiresDate: undefined,
          webOrderLineItemId: undefined,
          subscriptionGroupIdentifier: undefined,
          price: undefined,
          currency: undefined,
          inAppOwnershipType: undefined,
        },
      }),
    );

    const entitlement = await onlyEntitlement(userId);
    expect(entitlement).toEqual({
      entitlement: 'com.example.lifetime',
      active: true,
      status: 'active',
      productId: 'com.example.lifetime',
      productType: 'Non-Consumable',
      environment: 'Sandbox',
      originalTransactionId: s.originalTransactionId,
      transactionId: s.originalTransactionId,
      purchaseDate: iso(T0),
      originalPurchaseDate: iso(T0),
      expiresDate: null,
      gracePeriodExpiresDate: null,
      willRenew: null,
      autoRenewProductId: null,
      ownershipType: null,
      revocationDate: null,
      revocationReason: null,
      revocationType: null,
      revocationPercentage: null,
      periodType: 'normal',
      offerIdentifier: null,
      price: null,
      currency: null,
      renewalPrice: null,
      renewalCurrency: null,
      renewalDate: null,
      expirationIntent: null,
      priceIncreaseStatus: null,
      source: 'app_store',
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
    });
  });

  const wronglyTyped = [
    { what: 'a transaction whose revocationPercentage is a string', transaction: { revocationPercentage: '50000' } },
    { what: 'a transaction whose revocationType is a number', transaction: { revocationType: 1 } },
    { what: 'a transaction whose offerDiscountType is a number', transaction: { offerDiscountType: 1 } },
    { what: 'a transaction whose offerPeriod is a list', transaction: { offerPeriod: ['P1M'] } },
    // biome-ignore lint/correctness/noPrecisionLoss: an id as long as Apple's, past 2^53; only its being a number matters here
    { what: 'a transaction whose appTransactionId is a number', transaction: { appTransactionId: 704289572311136189 } },
    { what: 'renewal info whose renewalPrice is a string', renewal: { renewalPrice: '9990' } },
    { what: 'renewal info whose renewalPrice is a fraction', renewal: { renewalPrice: 9.99 } },
    { what: 'renewal info whose currency is a number', renewal: { currency: 840 } },
    { what: 'renewal info whose eligibleWinBackOfferIds is a string', renewal: { eligibleWinBackOfferIds: 'win-back-1' } },
    { what: 'renewal info whose eligibleWinBackOfferIds holds a number', renewal: { eligibleWinBackOfferIds: ['win-back-1', 2] } },
    { what: 'renewal info whose offerDiscountType is a number', renewal: { offerDiscountType: 1 } },
    { what: 'renewal info whose offerIdentifier is a number', renewal: { offerIdentifier: 7 } },
  ];
  it.each(wronglyTyped)('refuses $what as MALFORMED_PAYLOAD', async ({ transaction, renewal }) => {
    time.set(iso(T0 + 2 * DAY));
    const s = scenario(t.pki);
    const response = await post(
      t.app,
      s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 + 1_000, transaction: { ...transaction }, ...(renewal ? { renewal } : {}) }),
    );
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'MALFORMED_PAYLOAD' } });
  });
});
