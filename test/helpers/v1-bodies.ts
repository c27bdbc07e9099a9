// Realistic V1 notification bodies for every notification type, shaped like Apple's
// (millisecond strings, "true"/"false" and "1"/"0" flags, _pst twins), for one monthly
// subscription that starts on 2026-01-01.
import type { V1NotificationType } from '../../src/apple/v1/index.js';
import { DAY, MONTH, TEST_BUNDLE_ID, TEST_SHARED_SECRET } from './constants.js';

export const V1_TEST = {
  bundleId: TEST_BUNDLE_ID,
  sharedSecret: TEST_SHARED_SECRET,
  originalTransactionId: '1000000000000001',
  monthly: 'com.example.pro.monthly',
  yearly: 'com.example.pro.yearly',
  coins: 'com.example.coins.100',
  groupId: '20667927',
  start: Date.parse('2026-01-01T10:00:00Z'),
} as const;

const gmt = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} Etc/GMT`;
const pst = (ms: number) => `${new Date(ms - 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')} America/Los_Angeles`;

function dateFields(name: string, ms: number): Record<string, string> {
  return { [name]: gmt(ms), [`${name}_ms`]: String(ms), [`${name}_pst`]: pst(ms) };
}

export interface TestTransaction {
  transactionId: string;
  productId?: string;
  purchase: number;
  expires?: number | null;
  cancellation?: { at: number; reason: '0' | '1' };
  upgraded?: boolean;
  ownership?: 'PURCHASED' | 'FAMILY_SHARED';
  trial?: boolean;
}

export function receiptInfo(t: TestTransaction): Record<string, string> {
  const productId = t.productId ?? V1_TEST.monthly;
  const isSubscription = t.expires !== null;
  const info: Record<string, string> = {
    quantity: '1',
    product_id: productId,
    transaction_id: t.transactionId,
    original_transaction_id: isSubscription ? V1_TEST.originalTransactionId : t.transactionId,
    ...dateFields('purchase_date', t.purchase),
    ...dateFields('original_purchase_date', isSubscription ? V1_TEST.start : t.purchase),
    is_trial_period: t.trial ? 'true' : 'false',
    in_app_ownership_type: t.ownership ?? 'PURCHASED',
  };
  if (isSubscription) {
    Object.assign(info, dateFields('expires_date', t.expires ?? t.purchase + MONTH), {
      web_order_line_item_id: String(1000000057000000 + (t.purchase - V1_TEST.start) / DAY),
      is_in_intro_offer_period: 'false',
      subscription_group_identifier: V1_TEST.groupId,
    });
  }
  if (t.cancellation) Object.assign(info, dateFields('cancellation_date', t.cancellation.at), { cancellation_reason: t.cancellation.reason });
  if (t.upgraded) info.is_upgraded = 'true';
  return info;
}

export interface TestRenewal {
  productId?: string;
  autoRenewProductId?: string;
  autoRenew?: boolean;
  expirationIntent?: '1' | '2' | '3' | '4' | '5';
  billingRetry?: boolean;
  gracePeriodExpires?: number;
  priceConsent?: '0' | '1';
}

export function renewalInfo(r: TestRenewal = {}): Record<string, string> {
  const info: Record<string, string> = {
    original_transaction_id: V1_TEST.originalTransactionId,
    product_id: r.productId ?? V1_TEST.monthly,
    auto_renew_product_id: r.autoRenewProductId ?? r.productId ?? V1_TEST.monthly,
    auto_renew_status: r.autoRenew === false ? '0' : '1',
    is_in_billing_retry_period: r.billingRetry ? '1' : '0',
  };
  if (r.expirationIntent) info.expiration_intent = r.expirationIntent;
  if (r.gracePeriodExpires !== undefined) Object.assign(info, dateFields('grace_period_expires_date', r.gracePeriodExpires));
  if (r.priceConsent) info.price_consent_status = r.priceConsent;
  return info;
}

export interface V1BodyOptions {
  password?: string;
  bid?: string;
  environment?: 'PROD' | 'Sandbox';
  transactions?: TestTransaction[];
  renewals?: TestRenewal[];
  extra?: Record<string, unknown>;
}

const first: TestTransaction = { transactionId: '1000000000000001', purchase: V1_TEST.start };
const second: TestTransaction = { transactionId: '1000000000000002', purchase: V1_TEST.start + MONTH };
const third: TestTransaction = { transactionId: '1000000000000003', purchase: V1_TEST.start + 2 * MONTH };

/** What each type's body holds by default: a plausible moment in the subscription's life. */
export const V1_SCENARIOS: Record<V1NotificationType, { transactions: TestTransaction[]; renewals: TestRenewal[]; extra?: Record<string, unknown> }> = {
  INITIAL_BUY: { transactions: [first], renewals: [{}] },
  DID_RENEW: { transactions: [second, first], renewals: [{}] },
  DID_RECOVER: { transactions: [{ ...second, purchase: V1_TEST.start + MONTH + 3 * DAY }, first], renewals: [{}] },
  INTERACTIVE_RENEWAL: { transactions: [third, first], renewals: [{}] },
  DID_CHANGE_RENEWAL_PREF: { transactions: [second, first], renewals: [{ autoRenewProductId: V1_TEST.yearly }] },
  DID_CHANGE_RENEWAL_STATUS: {
    transactions: [second, first],
    renewals: [{ autoRenew: false }],
    extra: { auto_renew_status: 'false', ...dateFields('auto_renew_status_change_date', V1_TEST.start + MONTH + 5 * DAY) },
  },
  DID_FAIL_TO_RENEW: {
    transactions: [second, first],
    renewals: [{ billingRetry: true, expirationIntent: '2', gracePeriodExpires: V1_TEST.start + 2 * MONTH + 16 * DAY }],
  },
  CANCEL: {
    transactions: [{ ...second, cancellation: { at: V1_TEST.start + MONTH + 2 * DAY, reason: '0' } }, first],
    renewals: [{ autoRenew: false }],
  },
  REFUND: {
    transactions: [{ ...second, cancellation: { at: V1_TEST.start + MONTH + 4 * DAY, reason: '1' } }, first],
    renewals: [{ autoRenew: false }],
  },
  REVOKE: {
    transactions: [{ ...second, ownership: 'FAMILY_SHARED', cancellation: { at: V1_TEST.start + MONTH + 6 * DAY, reason: '0' } }, first],
    renewals: [{}],
  },
  CONSUMPTION_REQUEST: {
    transactions: [{ transactionId: '1000000000000090', productId: V1_TEST.coins, purchase: V1_TEST.start + 10 * DAY, expires: null }],
    renewals: [],
  },
  PRICE_INCREASE_CONSENT: { transactions: [second, first], renewals: [{ priceConsent: '0' }] },
};

/** A V1 body of the given type; options replace the scenario's parts. */
export function v1Body(type: V1NotificationType, options: V1BodyOptions = {}): Record<string, unknown> {
  const scenario = V1_SCENARIOS[type];
  const transactions = options.transactions ?? scenario.transactions;
  const renewals = (options.renewals ?? scenario.renewals).map(renewalInfo);
  const subscription = transactions.some((t) => t.expires !== null);
  return {
    notification_type: type,
    password: options.password ?? V1_TEST.sharedSecret,
    environment: options.environment ?? 'Sandbox',
    bid: options.bid ?? V1_TEST.bundleId,
    bvrs: '34',
    ...(subscription
      ? {
          auto_renew_status: renewals[0]?.auto_renew_status === '0' ? 'false' : 'true',
          auto_renew_product_id: renewals[0]?.auto_renew_product_id ?? V1_TEST.monthly,
        }
      : {}),
    ...scenario.extra,
    ...options.extra,
    unified_receipt: {
      status: 0,
      environment: (options.environment ?? 'Sandbox') === 'PROD' ? 'Production' : 'Sandbox',
      latest_receipt: Buffer.from(`receipt for ${type}`).toString('base64'),
      latest_receipt_info: transactions.map(receiptInfo),
      pending_renewal_info: renewals,
    },
  };
}

export const V1_DATES = { DAY, MONTH };
