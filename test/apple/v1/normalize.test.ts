import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeV1Notification, parseV1Notification, V1_NOTIFICATION_TYPES, type V1NotificationType } from '../../../src/apple/v1/index.js';
import { projectRoot } from '../../../src/paths.js';
import { V1_DATES, V1_TEST, type V1BodyOptions, v1Body } from '../../helpers/v1-bodies.js';

const { DAY, MONTH } = V1_DATES;
const normalize = (type: V1NotificationType, options?: V1BodyOptions) => normalizeV1Notification(parseV1Notification(v1Body(type, options)));

describe('normalizeV1Notification for every V1 type', () => {
  const expected: Record<V1NotificationType, { status?: number; v2: { notificationType: string; subtype?: string } }> = {
    INITIAL_BUY: { status: 1, v2: { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY' } },
    DID_RENEW: { status: 1, v2: { notificationType: 'DID_RENEW' } },
    DID_RECOVER: { status: 1, v2: { notificationType: 'DID_RENEW', subtype: 'BILLING_RECOVERY' } },
    INTERACTIVE_RENEWAL: { status: 1, v2: { notificationType: 'SUBSCRIBED', subtype: 'RESUBSCRIBE' } },
    DID_CHANGE_RENEWAL_PREF: { status: 1, v2: { notificationType: 'DID_CHANGE_RENEWAL_PREF' } },
    DID_CHANGE_RENEWAL_STATUS: { status: 1, v2: { notificationType: 'DID_CHANGE_RENEWAL_STATUS', subtype: 'AUTO_RENEW_DISABLED' } },
    DID_FAIL_TO_RENEW: { status: 4, v2: { notificationType: 'DID_FAIL_TO_RENEW', subtype: 'GRACE_PERIOD' } },
    CANCEL: { status: 5, v2: { notificationType: 'REFUND' } },
    REFUND: { status: 5, v2: { notificationType: 'REFUND' } },
    REVOKE: { status: 5, v2: { notificationType: 'REVOKE' } },
    CONSUMPTION_REQUEST: { v2: { notificationType: 'CONSUMPTION_REQUEST' } },
    PRICE_INCREASE_CONSENT: { status: 1, v2: { notificationType: 'PRICE_INCREASE', subtype: 'PENDING' } },
  };

  it.each(V1_NOTIFICATION_TYPES)('maps %s to its V2 equivalent and Apple status', (type) => {
    const n = normalize(type);
    expect(n.source).toBe('v1');
    expect(n.notificationType).toBe(type);
    expect(n.environment).toBe('Sandbox');
    expect(n.bundleId).toBe(V1_TEST.bundleId);
    expect(n.v2).toEqual(expected[type].v2);
    const { status } = expected[type];
    expect(n.status).toEqual(status === undefined ? [] : [{ originalTransactionId: V1_TEST.originalTransactionId, appleStatus: status }]);
    expect(n.transactions.length).toBeGreaterThan(0);
    for (const tx of n.transactions) {
      expect(tx.bundleId).toBe(V1_TEST.bundleId);
      expect(tx.environment).toBe('Sandbox');
      expect(tx.signedDate).toBe(n.signedDate);
    }
  });
});

describe('normalizeV1Notification field mapping', () => {
  it('turns millisecond strings into numbers and infers auto-renewable subscriptions from expiry dates', () => {
    const n = normalize('DID_RENEW', { environment: 'PROD' });
    expect(n.environment).toBe('Production');
    expect(n.transactions[0]).toEqual({
      originalTransactionId: V1_TEST.originalTransactionId,
      transactionId: '1000000000000002',
      webOrderLineItemId: '1000000057000030',
      bundleId: V1_TEST.bundleId,
      productId: V1_TEST.monthly,
      subscriptionGroupIdentifier: V1_TEST.groupId,
      purchaseDate: V1_TEST.start + MONTH,
      originalPurchaseDate: V1_TEST.start,
      expiresDate: V1_TEST.start + 2 * MONTH,
      quantity: 1,
      type: 'Auto-Renewable Subscription',
      inAppOwnershipType: 'PURCHASED',
      signedDate: V1_TEST.start + MONTH,
      environment: 'Production',
    });
    expect(n.renewals).toEqual([
      {
        originalTransactionId: V1_TEST.originalTransactionId,
        productId: V1_TEST.monthly,
        autoRenewProductId: V1_TEST.monthly,
        autoRenewStatus: 1,
        isInBillingRetryPeriod: false,
        signedDate: V1_TEST.start + MONTH,
        environment: 'Production',
      },
    ]);
    expect(n.originalTransactionIds).toEqual([V1_TEST.originalTransactionId]);
    expect(n.bundleVersion).toBe('34');
  });

  it('maps a cancellation to revocationDate and revocationReason', () => {
    const refund = normalize('REFUND').transactions[0]!;
    expect(refund.revocationDate).toBe(V1_TEST.start + MONTH + 4 * DAY);
    expect(refund.revocationReason).toBe(1);
    const cancel = normalize('CANCEL').transactions[0]!;
    expect(cancel.revocationReason).toBe(0);
    const revoke = normalize('REVOKE').transactions[0]!;
    expect(revoke.inAppOwnershipType).toBe('FAMILY_SHARED');
  });

  it('maps billing retry, grace period and expiration intent onto the renewal info', () => {
    const n = normalize('DID_FAIL_TO_RENEW');
    expect(n.renewals[0]).toMatchObject({
      isInBillingRetryPeriod: true,
      expirationIntent: 2,
      gracePeriodExpiresDate: V1_TEST.start + 2 * MONTH + 16 * DAY,
    });
    // The failed renewal happened when the latest period ended, which the body proves is past.
    expect(n.signedDate).toBe(V1_TEST.start + 2 * MONTH);
  });

  it('reports billing retry (3) for a failed renewal without a grace period', () => {
    const n = normalize('DID_FAIL_TO_RENEW', { renewals: [{ billingRetry: true, expirationIntent: '2' }] });
    expect(n.status).toEqual([{ originalTransactionId: V1_TEST.originalTransactionId, appleStatus: 3 }]);
    expect(n.v2).toEqual({ notificationType: 'DID_FAIL_TO_RENEW' });
  });

  it('reports an expired subscription (2) when a renewal-status change comes after the period ended', () => {
    const n = normalize('DID_CHANGE_RENEWAL_STATUS', {
      transactions: [{ transactionId: '1000000000000001', purchase: V1_TEST.start }],
      renewals: [{ autoRenew: false, expirationIntent: '1' }],
      extra: { auto_renew_status_change_date_ms: String(V1_TEST.start + MONTH + DAY) },
    });
    expect(n.status).toEqual([{ originalTransactionId: V1_TEST.originalTransactionId, appleStatus: 2 }]);
    expect(n.renewals[0]).toMatchObject({ autoRenewStatus: 0, expirationIntent: 1 });
  });

  it('maps a CANCEL of an upgraded transaction to an upgrade, with the new product still active', () => {
    const n = normalize('CANCEL', {
      transactions: [
        { transactionId: '1000000000000003', productId: V1_TEST.yearly, purchase: V1_TEST.start + MONTH + 2 * DAY, expires: V1_TEST.start + 13 * MONTH },
        {
          transactionId: '1000000000000002',
          purchase: V1_TEST.start + MONTH,
          upgraded: true,
          cancellation: { at: V1_TEST.start + MONTH + 2 * DAY, reason: '0' },
        },
      ],
      renewals: [{ productId: V1_TEST.yearly }],
    });
    expect(n.v2).toEqual({ notificationType: 'DID_CHANGE_RENEWAL_PREF', subtype: 'UPGRADE' });
    expect(n.status).toEqual([{ originalTransactionId: V1_TEST.originalTransactionId, appleStatus: 1 }]);
    expect(n.transactions[1]).toMatchObject({ isUpgraded: true, revocationDate: V1_TEST.start + MONTH + 2 * DAY });
  });

  it('marks a trial as an introductory offer', () => {
    const n = normalize('INITIAL_BUY', { transactions: [{ transactionId: '1000000000000001', purchase: V1_TEST.start, trial: true }] });
    expect(n.transactions[0]?.offerType).toBe(1);
  });

  it('carries an offer code and a promotional offer to both the V2 transaction and the V2 renewal, and no offer where V1 names none', () => {
    const body = v1Body('INITIAL_BUY') as {
      unified_receipt: { latest_receipt_info: Array<Record<string, unknown>>; pending_renewal_info: Array<Record<string, unknown>> };
    };
    Object.assign(body.unified_receipt.latest_receipt_info[0]!, { offer_code_ref_name: 'SPRING', promotional_offer_id: 'ignored-for-the-code' });
    Object.assign(body.unified_receipt.pending_renewal_info[0]!, { promotional_offer_id: 'winback' });
    const n = normalizeV1Notification(parseV1Notification(body));
    expect(n.transactions[0]).toMatchObject({ offerType: 3, offerIdentifier: 'SPRING' });
    expect(n.transactions[0]).not.toHaveProperty('offerDiscountType');
    expect(n.renewals[0]).toMatchObject({ offerType: 2, offerIdentifier: 'winback' });
    expect(n.renewals[0]).not.toHaveProperty('offerDiscountType');

    const plain = normalize('INITIAL_BUY');
    expect(plain.transactions[0]).not.toHaveProperty('offerType');
    expect(plain.renewals[0]).not.toHaveProperty('offerType');
  });

  it('maps a price increase consent to ACCEPTED and priceIncreaseStatus 1', () => {
    const n = normalize('PRICE_INCREASE_CONSENT', { renewals: [{ priceConsent: '1' }] });
    expect(n.v2).toEqual({ notificationType: 'PRICE_INCREASE', subtype: 'ACCEPTED' });
    expect(n.renewals[0]?.priceIncreaseStatus).toBe(1);
  });

  it('asks the caller for the type of purchases without expiry, defaulting to Non-Consumable', () => {
    const body = parseV1Notification(v1Body('CONSUMPTION_REQUEST'));
    expect(normalizeV1Notification(body).transactions[0]?.type).toBe('Non-Consumable');
    const typed = normalizeV1Notification(body, { productTypeOf: (id) => (id === V1_TEST.coins ? 'Consumable' : 'Non-Consumable') });
    expect(typed.transactions[0]).toMatchObject({ type: 'Consumable', originalTransactionId: '1000000000000090' });
    expect(typed.transactions[0]?.expiresDate).toBeUndefined();
  });
});

describe('normalizeV1Notification product types from the catalog', () => {
  const SEASON = 'com.example.season';
  const catalogTypes = (types: Record<string, string>) => (id: string) => (types[id] ?? null) as never;

  it('takes the catalog type of a V1 consumable and non-renewing purchase instead of making them Non-Consumables', () => {
    const body = parseV1Notification(
      v1Body('CONSUMPTION_REQUEST', {
        transactions: [
          { transactionId: '1000000000000090', productId: V1_TEST.coins, purchase: V1_TEST.start, expires: null },
          { transactionId: '1000000000000091', productId: SEASON, purchase: V1_TEST.start, expires: null },
        ],
      }),
    );
    const unlisted: string[] = [];
    const n = normalizeV1Notification(body, {
      productTypeOf: catalogTypes({ [V1_TEST.coins]: 'Consumable', [SEASON]: 'Non-Renewing Subscription' }),
      onUnlistedProduct: (id) => unlisted.push(id),
    });
    expect(n.transactions.map((t) => [t.productId, t.type])).toEqual([
      [V1_TEST.coins, 'Consumable'],
      [SEASON, 'Non-Renewing Subscription'],
    ]);
    expect(unlisted).toEqual([]);
  });

  it('lets the catalog decide even for a V1 product with an expiry', () => {
    const n = normalizeV1Notification(parseV1Notification(v1Body('INITIAL_BUY')), {
      productTypeOf: catalogTypes({ [V1_TEST.monthly]: 'Non-Renewing Subscription' }),
    });
    expect(n.transactions[0]?.type).toBe('Non-Renewing Subscription');
  });

  it('makes an unlisted V1 product with an expiry a subscription, and one without a Non-Consumable it reports', () => {
    const body = parseV1Notification(
      v1Body('DID_RENEW', {
        transactions: [
          { transactionId: '1000000000000002', purchase: V1_TEST.start + MONTH },
          { transactionId: '1000000000000090', productId: V1_TEST.coins, purchase: V1_TEST.start, expires: null },
        ],
      }),
    );
    const unlisted: string[] = [];
    const n = normalizeV1Notification(body, { productTypeOf: () => null, onUnlistedProduct: (id) => unlisted.push(id) });
    expect(n.transactions.map((t) => t.type)).toEqual(['Auto-Renewable Subscription', 'Non-Consumable']);
    expect(unlisted).toEqual([V1_TEST.coins]);
  });
});

describe('normalizeV1Notification ordering and duplicate keys', () => {
  it('gives a later event of one subscription a later signedDate', () => {
    const order: V1NotificationType[] = ['INITIAL_BUY', 'DID_RENEW', 'DID_CHANGE_RENEWAL_STATUS', 'DID_FAIL_TO_RENEW'];
    const dates = order.map((type) => normalize(type).signedDate);
    expect([...dates].sort((a, b) => a - b)).toEqual(dates);
    expect(new Set(dates).size).toBe(dates.length);
  });

  it('gives a resend of the same body the same dedupKey and signedDate, whatever its key order or password', () => {
    const body = v1Body('DID_RENEW');
    const reordered = Object.fromEntries(Object.entries(structuredClone(body)).reverse());
    reordered.password = 'rotated-secret';
    const a = normalizeV1Notification(parseV1Notification(body));
    const b = normalizeV1Notification(parseV1Notification(reordered));
    expect(b.dedupKey).toBe(a.dedupKey);
    expect(b.signedDate).toBe(a.signedDate);
    expect(a.dedupKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives different notifications different dedupKeys', () => {
    const keys = V1_NOTIFICATION_TYPES.map((type) => normalize(type).dedupKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(normalize('DID_RENEW', { environment: 'PROD' }).dedupKey).not.toBe(normalize('DID_RENEW').dedupKey);
  });
});

const realBody = path.join(path.resolve(projectRoot, '../shared/apple/real'), 'v1-notification-1.json');

describe.skipIf(!existsSync(realBody))('a real V1 body (skipped when ../shared/apple/real is absent)', () => {
  it('parses and normalises the captured DID_CHANGE_RENEWAL_STATUS body', () => {
    const n = normalizeV1Notification(parseV1Notification(JSON.parse(readFileSync(realBody, 'utf8'))));
    expect(n.notificationType).toBe('DID_CHANGE_RENEWAL_STATUS');
    expect(n.environment).toBe('Production');
    expect(n.bundleId).toBe('com.some.thing');
    expect(n.originalTransactionIds).toEqual(['1000000723811158']);
    expect(n.transactions).toHaveLength(54);
    expect(n.transactions.every((t) => t.type === 'Auto-Renewable Subscription')).toBe(true);
    expect(n.transactions[0]).toMatchObject({
      transactionId: '1000000746095599',
      purchaseDate: 1606292762000,
      expiresDate: 1606293062000,
      subscriptionGroupIdentifier: '20667927',
    });
    expect(n.renewals).toEqual([expect.objectContaining({ autoRenewStatus: 0, expirationIntent: 1, isInBillingRetryPeriod: false })]);
    // Auto-renew went off a minute before the last period ended: still active at that moment.
    expect(n.signedDate).toBe(1606293002000);
    expect(n.status).toEqual([{ originalTransactionId: '1000000723811158', appleStatus: 1 }]);
    expect(n.v2).toEqual({ notificationType: 'DID_CHANGE_RENEWAL_STATUS', subtype: 'AUTO_RENEW_DISABLED' });
  });
});
