import { describe, expect, it } from 'vitest';
import { normalizeV1Notification, parseV1Notification } from '../../src/apple/v1/index.js';
import { updatesFromV1 } from '../../src/legacy/purchase-updates.model.js';
import { applyPurchaseUpdates } from '../../src/purchases/purchases.repository.js';
import { authHeader } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { V1_DATES, V1_TEST, v1Body } from '../helpers/v1-bodies.js';
import { getEntitlements, manualClock } from './app-backend-fixtures.js';

// What V1 data carries of SPEC's entitlement fields, mapped where it maps cleanly: the
// trial and introductory flags, promotional offers and offer codes, the expiration intent
// and the price-increase consent. V1 has no prices and no revocation type.

const { DAY, MONTH } = V1_DATES;

describe(`entitlement fields from V1 data (${backendName})`, () => {
  const time = manualClock(new Date(V1_TEST.start + 10 * DAY).toISOString());
  const t = useTestApp({ clock: time.clock });

  /** Applies a V1 body the way the V1 ingest does once it trusts it, for the user's purchase. */
  async function applyV1(
    userId: string,
    originalTransactionId: string,
    body: Record<string, unknown>,
    info: Record<string, string>,
    renewal: Record<string, string> = {},
  ) {
    const token = (
      (await t.app.inject({ method: 'GET', url: `/users/${userId}/app-account-token`, headers: authHeader() })).json() as { appAccountToken: string }
    ).appAccountToken;
    const receipt = body.unified_receipt as { latest_receipt_info: Record<string, string>[]; pending_renewal_info: Record<string, string>[] };
    receipt.latest_receipt_info = receipt.latest_receipt_info.map((item) => ({
      ...item,
      original_transaction_id: originalTransactionId,
      transaction_id: `${originalTransactionId.slice(0, -2)}${item.transaction_id!.slice(-2)}`,
      app_account_token: token,
      ...info,
    }));
    receipt.pending_renewal_info = receipt.pending_renewal_info.map((item) => ({ ...item, original_transaction_id: originalTransactionId, ...renewal }));
    const updates = updatesFromV1(normalizeV1Notification(parseV1Notification(body)));
    await t.deps.database.db.transaction(async (tx) => {
      await applyPurchaseUpdates(tx, updates, { now: t.deps.clock() });
    });
  }

  async function onlyEntitlement(userId: string) {
    const response = await getEntitlements(t, userId);
    expect(response.statusCode).toBe(200);
    const { entitlements } = response.json() as { entitlements: Record<string, unknown>[] };
    expect(entitlements).toHaveLength(1);
    return entitlements[0]!;
  }

  const cases: { name: string; info: Record<string, string>; periodType: string; offerIdentifier: string | null }[] = [
    { name: 'a trial (is_trial_period)', info: { is_trial_period: 'true' }, periodType: 'trial', offerIdentifier: null },
    { name: 'an introductory offer (is_in_intro_offer_period)', info: { is_in_intro_offer_period: 'true' }, periodType: 'intro', offerIdentifier: null },
    { name: 'a promotional offer (promotional_offer_id)', info: { promotional_offer_id: 'promo-v1' }, periodType: 'promotional', offerIdentifier: 'promo-v1' },
    { name: 'an offer code (offer_code_ref_name)', info: { offer_code_ref_name: 'SPRING' }, periodType: 'offer_code', offerIdentifier: 'SPRING' },
    { name: 'no offer', info: {}, periodType: 'normal', offerIdentifier: null },
  ];
  it.each(cases.map((c, index) => ({ ...c, index })))('answers periodType $periodType for $name', async ({ info, periodType, offerIdentifier, index }) => {
    time.set(new Date(V1_TEST.start + 10 * DAY).toISOString());
    const userId = `u-v1-offer-${index}`;
    await applyV1(userId, `30000000000${index}0000`, v1Body('INITIAL_BUY'), info);

    expect(await onlyEntitlement(userId)).toMatchObject({ periodType, offerIdentifier, price: null, currency: null, source: 'app_store' });
  });

  it('answers the expiration intent and price consent from pending_renewal_info, and null for what V1 does not carry', async () => {
    time.set(new Date(V1_TEST.start + 2 * MONTH + 2 * DAY).toISOString());
    const userId = 'u-v1-expired';
    await applyV1(
      userId,
      '3000000000090000',
      v1Body('DID_CHANGE_RENEWAL_STATUS'),
      {},
      {
        auto_renew_status: '0',
        expiration_intent: '1',
        price_consent_status: '1',
      },
    );

    expect(await onlyEntitlement(userId)).toMatchObject({
      status: 'expired',
      willRenew: false,
      expirationIntent: 1,
      priceIncreaseStatus: 1,
      renewalPrice: null,
      renewalCurrency: null,
      renewalDate: null,
      revocationType: null,
      revocationPercentage: null,
    });
  });

  it('answers the revocation reason of a V1 refund (cancellation_reason)', async () => {
    time.set(new Date(V1_TEST.start + MONTH + 10 * DAY).toISOString());
    const userId = 'u-v1-refund';
    await applyV1(userId, '3000000000080000', v1Body('REFUND'), {});

    expect(await onlyEntitlement(userId)).toMatchObject({ status: 'revoked', revocationReason: 1, revocationType: null, revocationPercentage: null });
  });
});
