import {
  type JWSRenewalInfoDecodedPayload,
  type JWSTransactionDecodedPayload,
  type KnownSubscriptionStatus,
  PRODUCT_TYPE,
  type ProductType,
  SUBSCRIPTION_STATUS,
} from '../types.js';
import { v1DedupKey } from './dedup-key.js';
import { V1_STATUS_RULES, type V2Equivalent, v2EquivalentOf } from './notification-types.js';
import { mapV1Environment } from './parse.js';
import type { V1LatestReceiptInfo, V1Notification, V1PendingRenewalInfo } from './types.js';

export interface V1Normalized {
  source: 'v1';
  notificationType: V1Notification['notification_type'];
  /** The V2 notification type (and subtype) that says the same thing. */
  v2: V2Equivalent;
  environment: 'Production' | 'Sandbox';
  bundleId: string;
  bundleVersion?: string;
  originalTransactionIds: string[];
  transactions: JWSTransactionDecodedPayload[];
  renewals: JWSRenewalInfoDecodedPayload[];
  /** Apple's subscription status (1 active … 5 revoked) per auto-renewable subscription in the body. */
  status: { originalTransactionId: string; appleStatus: KnownSubscriptionStatus }[];
  /**
   * V1 bodies carry no signing time. This is the latest moment the body proves has passed:
   * every purchase, original purchase and cancellation date, the auto-renew status change
   * date, and the expiry of a subscription's latest transaction when its renewal info says
   * that expiry is over (billing retry). Future expiry dates are left
   * out, so a renewal never sorts after a later cancellation. Resends give the same value.
   */
  signedDate: number;
  /** SHA-256 of the body without its password: equal for Apple's resends of one notification. */
  dedupKey: string;
}

export interface NormalizeV1Options {
  /**
   * The product's type from the catalog (ENTITLEMENTS_FILE `products.<id>.type`), or null
   * when it is not listed. V1 data names no type, so the catalog decides; an unlisted
   * product with an expiry is an Auto-Renewable Subscription, one without a Non-Consumable.
   */
  productTypeOf?: (productId: string) => ProductType | null;
  /** Told of each unlisted product without an expiry, which is taken as a Non-Consumable. */
  onUnlistedProduct?: (productId: string) => void;
}

function productTypeOf(productId: string, hasExpiry: boolean, options: NormalizeV1Options): ProductType {
  const listed = options.productTypeOf?.(productId) ?? null;
  if (listed !== null) return listed;
  if (hasExpiry) return PRODUCT_TYPE.autoRenewable;
  options.onUnlistedProduct?.(productId);
  return PRODUCT_TYPE.nonConsumable;
}

const num = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s));
const flag = (s: string | undefined) => (s === undefined || s === '' ? undefined : s === 'true' || s === '1');

function setIfDefined<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function offerOf(info: { promotional_offer_id?: string; offer_code_ref_name?: string; is_trial_period?: string; is_in_intro_offer_period?: string }) {
  // V2 offer types: 1 introductory, 2 promotional, 3 offer code.
  if (info.offer_code_ref_name) return { offerType: 3, offerIdentifier: info.offer_code_ref_name };
  if (info.promotional_offer_id) return { offerType: 2, offerIdentifier: info.promotional_offer_id };
  // A V1 trial is V2's introductory offer with offerDiscountType FREE_TRIAL; V1 does not
  // say whether another introductory offer was paid as you go or up front.
  if (flag(info.is_trial_period)) return { offerType: 1, offerDiscountType: 'FREE_TRIAL' };
  if (flag(info.is_in_intro_offer_period)) return { offerType: 1 };
  return undefined;
}

/** The V2 offer fields of a transaction or renewal, from its V1 record (what V1 does not say stays unset). */
function setOffer(target: { offerType?: number; offerIdentifier?: string; offerDiscountType?: string }, info: Parameters<typeof offerOf>[0]): void {
  const offer = offerOf(info);
  if (offer === undefined) return;
  target.offerType = offer.offerType;
  setIfDefined(target, 'offerIdentifier', offer.offerIdentifier);
  setIfDefined(target, 'offerDiscountType', offer.offerDiscountType);
}

function toTransaction(
  info: V1LatestReceiptInfo,
  base: { bundleId: string; environment: 'Production' | 'Sandbox'; signedDate: number },
  options: NormalizeV1Options,
): JWSTransactionDecodedPayload {
  const expiresDate = num(info.expires_date_ms);
  const type = productTypeOf(info.product_id, expiresDate !== undefined, options);
  const tx: JWSTransactionDecodedPayload = {
    originalTransactionId: info.original_transaction_id,
    transactionId: info.transaction_id,
    bundleId: base.bundleId,
    productId: info.product_id,
    purchaseDate: Number(info.purchase_date_ms),
    type,
    signedDate: base.signedDate,
    environment: base.environment,
  };
  setIfDefined(tx, 'webOrderLineItemId', info.web_order_line_item_id || undefined);
  setIfDefined(tx, 'subscriptionGroupIdentifier', info.subscription_group_identifier || undefined);
  setIfDefined(tx, 'originalPurchaseDate', num(info.original_purchase_date_ms));
  setIfDefined(tx, 'expiresDate', expiresDate);
  setIfDefined(tx, 'quantity', num(info.quantity));
  setIfDefined(tx, 'appAccountToken', info.app_account_token || undefined);
  setIfDefined(tx, 'inAppOwnershipType', info.in_app_ownership_type || undefined);
  const revocationDate = num(info.cancellation_date_ms);
  if (revocationDate !== undefined) {
    tx.revocationDate = revocationDate;
    tx.revocationReason = num(info.cancellation_reason) ?? 0;
  }
  setIfDefined(tx, 'isUpgraded', flag(info.is_upgraded));
  setOffer(tx, info);
  return tx;
}

function toRenewal(info: V1PendingRenewalInfo, base: { environment: 'Production' | 'Sandbox'; signedDate: number }): JWSRenewalInfoDecodedPayload {
  const renewal: JWSRenewalInfoDecodedPayload = {
    originalTransactionId: info.original_transaction_id,
    productId: info.product_id,
    signedDate: base.signedDate,
    environment: base.environment,
  };
  setIfDefined(renewal, 'autoRenewProductId', info.auto_renew_product_id || undefined);
  const autoRenew = flag(info.auto_renew_status);
  if (autoRenew !== undefined) renewal.autoRenewStatus = autoRenew ? 1 : 0;
  setIfDefined(renewal, 'expirationIntent', num(info.expiration_intent));
  setIfDefined(renewal, 'isInBillingRetryPeriod', flag(info.is_in_billing_retry_period));
  // V1's price_consent_status "1" means consented, as V2's priceIncreaseStatus 1 does.
  setIfDefined(renewal, 'priceIncreaseStatus', num(info.price_consent_status ?? info.price_increase_status));
  setIfDefined(renewal, 'gracePeriodExpiresDate', num(info.grace_period_expires_date_ms));
  setOffer(renewal, info);
  return renewal;
}

/**
 * The transaction that decides a subscription's state: the latest period by purchase date
 * (then expiry), leaving out transactions marked is_upgraded while another exists. It is
 * not the one that expires last: after a yearly plan is upgraded to a monthly premium one,
 * the cancelled yearly still expires last, but the period running is the monthly one.
 */
function latestOf(infos: V1LatestReceiptInfo[]): V1LatestReceiptInfo | undefined {
  const subscriptions = infos.filter((info) => info.expires_date_ms !== undefined && info.expires_date_ms !== '');
  const current = subscriptions.filter((info) => flag(info.is_upgraded) !== true);
  let latest: V1LatestReceiptInfo | undefined;
  for (const info of current.length > 0 ? current : subscriptions) {
    const key = (i: V1LatestReceiptInfo) => [Number(i.purchase_date_ms), Number(i.expires_date_ms)] as const;
    if (latest === undefined) latest = info;
    else {
      const [p, e] = key(info);
      const [lp, le] = key(latest);
      if (p > lp || (p === lp && e > le)) latest = info;
    }
  }
  return latest;
}

function groupByOriginal(infos: V1LatestReceiptInfo[]): Map<string, V1LatestReceiptInfo[]> {
  const groups = new Map<string, V1LatestReceiptInfo[]>();
  for (const info of infos) {
    const list = groups.get(info.original_transaction_id) ?? [];
    list.push(info);
    groups.set(info.original_transaction_id, list);
  }
  return groups;
}

function derivedSignedDate(n: V1Notification, groups: Map<string, V1LatestReceiptInfo[]>): number {
  const dates: number[] = [];
  const push = (s: string | undefined) => {
    const v = num(s);
    if (v !== undefined) dates.push(v);
  };
  push(n.auto_renew_status_change_date_ms);
  push(n.cancellation_date_ms);
  for (const info of n.unified_receipt.latest_receipt_info) {
    push(info.purchase_date_ms);
    push(info.original_purchase_date_ms);
    push(info.cancellation_date_ms);
  }
  for (const renewal of n.unified_receipt.pending_renewal_info) {
    // Only billing retry proves the expiry has passed: Apple also sets expiration_intent as
    // soon as auto-renew is turned off, while the period is still running.
    if (flag(renewal.is_in_billing_retry_period) === true) push(latestOf(groups.get(renewal.original_transaction_id) ?? [])?.expires_date_ms);
  }
  return dates.length === 0 ? 0 : Math.max(...dates);
}

function statusOf(
  rule: 'active' | 'failed-renewal' | 'from-data',
  latest: V1LatestReceiptInfo,
  renewal: V1PendingRenewalInfo | undefined,
  at: number,
): KnownSubscriptionStatus {
  if (latest.cancellation_date_ms !== undefined && latest.cancellation_date_ms !== '') return SUBSCRIPTION_STATUS.revoked;
  const graceUntil = num(renewal?.grace_period_expires_date_ms);
  const inGrace = graceUntil !== undefined && graceUntil > at;
  const retrying = flag(renewal?.is_in_billing_retry_period) === true;
  if (rule === 'active') return SUBSCRIPTION_STATUS.active;
  if (rule === 'failed-renewal' || retrying) return inGrace ? SUBSCRIPTION_STATUS.gracePeriod : SUBSCRIPTION_STATUS.billingRetry;
  return Number(latest.expires_date_ms) > at ? SUBSCRIPTION_STATUS.active : SUBSCRIPTION_STATUS.expired;
}

/** Maps a parsed V1 body onto the decoded shapes V2 notifications produce. */
export function normalizeV1Notification(n: V1Notification, options: NormalizeV1Options = {}): V1Normalized {
  const environment = mapV1Environment(n.environment);
  const { latest_receipt_info: infos, pending_renewal_info: pending } = n.unified_receipt;
  const groups = groupByOriginal(infos);
  const signedDate = derivedSignedDate(n, groups);
  const base = { bundleId: n.bid, environment, signedDate };

  const originalTransactionIds = [
    ...new Set([
      ...(n.original_transaction_id ? [n.original_transaction_id] : []),
      ...infos.map((i) => i.original_transaction_id),
      ...pending.map((p) => p.original_transaction_id),
    ]),
  ];
  const rule = V1_STATUS_RULES[n.notification_type];
  const status: V1Normalized['status'] = [];
  let inGracePeriod = false;
  for (const [originalTransactionId, list] of groups) {
    const latest = latestOf(list);
    if (latest === undefined) continue;
    const renewal = pending.find((p) => p.original_transaction_id === originalTransactionId);
    const appleStatus = statusOf(rule, latest, renewal, signedDate);
    if (appleStatus === SUBSCRIPTION_STATUS.gracePeriod) inGracePeriod = true;
    status.push({ originalTransactionId, appleStatus });
  }

  const focus = pending.find((p) => p.original_transaction_id === n.original_transaction_id) ?? pending[0];
  const topAutoRenew = flag(n.auto_renew_status);
  const consent = num(focus?.price_consent_status);
  const v2 = v2EquivalentOf(n.notification_type, {
    autoRenewOn: topAutoRenew ?? flag(focus?.auto_renew_status),
    inGracePeriod,
    upgraded: infos.some((i) => flag(i.is_upgraded) === true && i.cancellation_date_ms !== undefined),
    priceConsentGiven: consent === undefined ? undefined : consent === 1,
  });

  const normalized: V1Normalized = {
    source: 'v1',
    notificationType: n.notification_type,
    v2,
    environment,
    bundleId: n.bid,
    originalTransactionIds,
    transactions: infos.map((info) => toTransaction(info, base, options)),
    renewals: pending.map((info) => toRenewal(info, base)),
    status,
    signedDate,
    dedupKey: v1DedupKey(n),
  };
  if (n.bvrs) normalized.bundleVersion = n.bvrs;
  return normalized;
}
