// Realistic signed V2 notifications for the ingest benchmark: many subscriptions, each
// with its own user (appAccountToken) and a life of SUBSCRIBED → DID_RENEW → DID_RENEW →
// DID_CHANGE_RENEWAL_STATUS, every notification with a nested signed transaction and
// renewal info under a three-certificate chain, like Apple's.
import { randomUUID } from 'node:crypto';
import { signCompactJws, type TestPki } from '../../test/helpers/pki.js';

export const BENCH_BUNDLE_ID = 'com.example.bench';
export const BENCH_APP_APPLE_ID = 1234567890;

/** The bench's apps (`--apps N`): the first is the single-app bench's; the others differ in bundle id and Apple id. */
export interface BenchApp {
  id: string;
  bundleId: string;
  appAppleId: number;
}

export function benchApps(count: number): BenchApp[] {
  return Array.from({ length: count }, (_, i) =>
    i === 0
      ? { id: 'default', bundleId: BENCH_BUNDLE_ID, appAppleId: BENCH_APP_APPLE_ID }
      : { id: `app${i + 1}`, bundleId: `${BENCH_BUNDLE_ID}${i + 1}`, appAppleId: BENCH_APP_APPLE_ID + i },
  );
}

const DAY = 86_400_000;
const MONTH = 30 * DAY;
const T0 = Date.parse('2025-01-01T00:00:00Z');
const PRODUCTS = ['com.example.bench.monthly', 'com.example.bench.monthly.premium', 'com.example.bench.monthly.family'];

export interface BenchNotification {
  uuid: string;
  type: string;
  originalTransactionId: string;
  transactionId: string;
  /** The app it is for (its signed bundleId). */
  appId: string;
  /** The request body, ready to send. */
  body: string;
}

/** The notification steps of one subscription's life, in the order Apple would send them. */
const LIFE = [
  { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', period: 0, autoRenew: 1 },
  { type: 'DID_RENEW', subtype: undefined, period: 1, autoRenew: 1 },
  { type: 'DID_RENEW', subtype: undefined, period: 2, autoRenew: 1 },
  { type: 'DID_CHANGE_RENEWAL_STATUS', subtype: 'AUTO_RENEW_DISABLED', period: 2, autoRenew: 0 },
] as const;

/**
 * `count` unique notifications, step by step across subscriptions (every subscription's
 * first notification, then every second one ...), so any prefix is a realistic mix. With
 * several `apps`, subscriptions take turns: consecutive notifications are for different apps.
 */
export function benchNotifications(
  pki: TestPki,
  count: number,
  runId = Date.now().toString().slice(-6),
  apps: readonly BenchApp[] = benchApps(1),
): BenchNotification[] {
  const subscriptionCount = Math.ceil(count / LIFE.length);
  const sign = (payload: object) => signCompactJws(pki.leafPrivateKey, { alg: 'ES256', x5c: pki.x5c }, payload);
  const subscriptions = Array.from({ length: subscriptionCount }, (_, s) => ({
    originalTransactionId: `4${runId}${String(s).padStart(9, '0')}`,
    token: randomUUID(),
    productId: PRODUCTS[s % PRODUCTS.length]!,
    start: T0 + (s % 10_000) * 60_000,
    app: apps[s % apps.length]!,
  }));
  const out: BenchNotification[] = [];
  for (const step of LIFE) {
    for (const sub of subscriptions) {
      if (out.length === count) return out;
      const purchaseDate = sub.start + step.period * MONTH;
      const signedDate = step.type === 'DID_CHANGE_RENEWAL_STATUS' ? purchaseDate + 5 * DAY : purchaseDate + 1_000;
      const transactionId = step.period === 0 ? sub.originalTransactionId : `5${sub.originalTransactionId.slice(1)}${step.period}`;
      const transaction = {
        transactionId,
        originalTransactionId: sub.originalTransactionId,
        webOrderLineItemId: `6${sub.originalTransactionId.slice(1)}${step.period}`,
        bundleId: sub.app.bundleId,
        productId: sub.productId,
        subscriptionGroupIdentifier: '21000000',
        purchaseDate,
        originalPurchaseDate: sub.start,
        expiresDate: purchaseDate + MONTH,
        quantity: 1,
        type: 'Auto-Renewable Subscription',
        appAccountToken: sub.token,
        inAppOwnershipType: 'PURCHASED',
        signedDate,
        environment: 'Production',
        transactionReason: step.period === 0 ? 'PURCHASE' : 'RENEWAL',
        storefront: 'USA',
        storefrontId: '143441',
        price: 4990,
        currency: 'USD',
        appTransactionId: `70${sub.originalTransactionId.slice(2)}`,
      };
      const renewal = {
        originalTransactionId: sub.originalTransactionId,
        autoRenewProductId: sub.productId,
        productId: sub.productId,
        autoRenewStatus: step.autoRenew,
        signedDate,
        environment: 'Production',
        recentSubscriptionStartDate: sub.start,
        renewalDate: purchaseDate + MONTH,
        renewalPrice: 4990,
        currency: 'USD',
        appAccountToken: sub.token,
        eligibleWinBackOfferIds: [],
        appTransactionId: `70${sub.originalTransactionId.slice(2)}`,
      };
      const uuid = randomUUID();
      const payload: Record<string, unknown> = {
        notificationType: step.type,
        notificationUUID: uuid,
        data: {
          appAppleId: sub.app.appAppleId,
          bundleId: sub.app.bundleId,
          bundleVersion: '42',
          environment: 'Production',
          signedTransactionInfo: sign(transaction),
          signedRenewalInfo: sign(renewal),
          status: 1,
        },
        version: '2.0',
        signedDate,
      };
      if (step.subtype !== undefined) payload.subtype = step.subtype;
      out.push({
        uuid,
        type: step.type,
        originalTransactionId: sub.originalTransactionId,
        transactionId,
        appId: sub.app.id,
        body: JSON.stringify({ signedPayload: sign(payload) }),
      });
    }
  }
  return out;
}
