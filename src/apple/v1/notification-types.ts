import type { NotificationTypeV2, Subtype } from '../types.js';
import type { V1NotificationType } from './types.js';

/**
 * How each V1 type maps onto V2, after Apple's own V1→V2 correspondence, and which
 * subscription status (Apple's 1..5) the type itself asserts.
 *
 * | V1 type                   | V2 type / subtype                                   | status                           |
 * |---------------------------|-----------------------------------------------------|----------------------------------|
 * | INITIAL_BUY               | SUBSCRIBED / INITIAL_BUY                            | 1 active (5 if revoked)          |
 * | DID_RENEW                 | DID_RENEW                                           | 1 active (5 if revoked)          |
 * | DID_RECOVER               | DID_RENEW / BILLING_RECOVERY                        | 1 active (5 if revoked)          |
 * | INTERACTIVE_RENEWAL       | SUBSCRIBED / RESUBSCRIBE                            | 1 active (5 if revoked)          |
 * | DID_CHANGE_RENEWAL_PREF   | DID_CHANGE_RENEWAL_PREF                             | from the data                    |
 * | DID_CHANGE_RENEWAL_STATUS | DID_CHANGE_RENEWAL_STATUS / AUTO_RENEW_EN-/DISABLED | from the data                    |
 * | DID_FAIL_TO_RENEW         | DID_FAIL_TO_RENEW (/ GRACE_PERIOD)                  | 4 grace period, else 3 billing retry |
 * | CANCEL                    | REFUND, or DID_CHANGE_RENEWAL_PREF / UPGRADE        | from the data (5 when the latest is cancelled) |
 * | REFUND                    | REFUND                                              | from the data (5 when the latest is refunded) |
 * | REVOKE                    | REVOKE                                              | from the data (5 when the latest is revoked) |
 * | CONSUMPTION_REQUEST       | CONSUMPTION_REQUEST                                 | from the data                    |
 * | PRICE_INCREASE_CONSENT    | PRICE_INCREASE / PENDING or ACCEPTED                | from the data                    |
 *
 * "From the data": revoked when the subscription's latest transaction carries a
 * cancellation date; billing retry / grace period when its renewal info says so; active
 * when the latest transaction expires after the notification's `signedDate`; else expired.
 */
export type V1StatusRule = 'active' | 'failed-renewal' | 'from-data';

export const V1_STATUS_RULES: Record<V1NotificationType, V1StatusRule> = {
  INITIAL_BUY: 'active',
  DID_RENEW: 'active',
  DID_RECOVER: 'active',
  INTERACTIVE_RENEWAL: 'active',
  DID_CHANGE_RENEWAL_PREF: 'from-data',
  DID_CHANGE_RENEWAL_STATUS: 'from-data',
  DID_FAIL_TO_RENEW: 'failed-renewal',
  CANCEL: 'from-data',
  REFUND: 'from-data',
  REVOKE: 'from-data',
  CONSUMPTION_REQUEST: 'from-data',
  PRICE_INCREASE_CONSENT: 'from-data',
};

export interface V2Equivalent {
  notificationType: NotificationTypeV2;
  subtype?: Subtype;
}

/** Facts of the body that decide a subtype; computed by the normaliser. */
export interface V2EquivalentFacts {
  autoRenewOn?: boolean;
  inGracePeriod: boolean;
  /** A transaction of the body was cancelled because the customer upgraded. */
  upgraded: boolean;
  priceConsentGiven?: boolean;
}

export function v2EquivalentOf(type: V1NotificationType, facts: V2EquivalentFacts): V2Equivalent {
  switch (type) {
    case 'INITIAL_BUY':
      return { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY' };
    case 'INTERACTIVE_RENEWAL':
      return { notificationType: 'SUBSCRIBED', subtype: 'RESUBSCRIBE' };
    case 'DID_RENEW':
      return { notificationType: 'DID_RENEW' };
    case 'DID_RECOVER':
      return { notificationType: 'DID_RENEW', subtype: 'BILLING_RECOVERY' };
    case 'DID_CHANGE_RENEWAL_PREF':
      return { notificationType: 'DID_CHANGE_RENEWAL_PREF' };
    case 'DID_CHANGE_RENEWAL_STATUS':
      if (facts.autoRenewOn === undefined) return { notificationType: 'DID_CHANGE_RENEWAL_STATUS' };
      return {
        notificationType: 'DID_CHANGE_RENEWAL_STATUS',
        subtype: facts.autoRenewOn ? 'AUTO_RENEW_ENABLED' : 'AUTO_RENEW_DISABLED',
      };
    case 'DID_FAIL_TO_RENEW':
      return facts.inGracePeriod ? { notificationType: 'DID_FAIL_TO_RENEW', subtype: 'GRACE_PERIOD' } : { notificationType: 'DID_FAIL_TO_RENEW' };
    case 'CANCEL':
      // V1 CANCEL covers both a refund by Apple support and the old product of an upgrade.
      return facts.upgraded ? { notificationType: 'DID_CHANGE_RENEWAL_PREF', subtype: 'UPGRADE' } : { notificationType: 'REFUND' };
    case 'REFUND':
      return { notificationType: 'REFUND' };
    case 'REVOKE':
      return { notificationType: 'REVOKE' };
    case 'CONSUMPTION_REQUEST':
      return { notificationType: 'CONSUMPTION_REQUEST' };
    case 'PRICE_INCREASE_CONSENT':
      if (facts.priceConsentGiven === undefined) return { notificationType: 'PRICE_INCREASE' };
      return { notificationType: 'PRICE_INCREASE', subtype: facts.priceConsentGiven ? 'ACCEPTED' : 'PENDING' };
  }
}
