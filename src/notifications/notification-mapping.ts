import { type NotificationTypeV2, SUBSCRIPTION_STATUS, type SubscriptionStatus, type Subtype, type VerifiedNotification } from '../apple/types.js';
import type { notifications } from '../db/schema.js';
import { renewalFromPayload, transactionFromPayload } from '../purchases/merge.model.js';
import type { PurchaseUpdate } from '../purchases/purchase-update.js';
import { describeNotification, type NotificationDescription, RECORDED_ONLY_KEEPS } from './notification-types.js';

// From a verified V2 notification to what the ingest stores. Pure, and shared by the
// webhook, recovery and `npm run replay`, so a replay rebuilds exactly what the
// ingest would have written.

/** 'applied' when the handling table applies the type, 'recorded' when it is recorded only. */
export type NotificationOutcome = 'applied' | 'recorded';

export type NotificationSource = 'webhook' | 'recovery' | 'api';

/** A `notifications` row as written. */
export type NotificationRecord = typeof notifications.$inferInsert;

export interface MappedNotification {
  handling: NotificationDescription;
  outcome: NotificationOutcome;
  update: PurchaseUpdate;
  notificationUUID: string;
  notificationType: string;
  subtype: string | null;
  environment: string | null;
  originalTransactionId: string | null;
  transactionId: string | null;
  signedDate: Date;
}

/**
 * Apple's `data.status` when the notification carries it; otherwise the status the
 * notification type implies, or null when it implies nothing about the subscription
 * as a whole (a refund may concern an old period, a renewal-preference change says
 * nothing about access).
 */
export function statusFromNotification(type: NotificationTypeV2, subtype: Subtype | undefined | null, dataStatus?: SubscriptionStatus | null): number | null {
  if (typeof dataStatus === 'number' && Number.isFinite(dataStatus)) return dataStatus;
  switch (type) {
    case 'SUBSCRIBED':
    case 'DID_RENEW':
    case 'OFFER_REDEEMED':
    case 'RENEWAL_EXTENDED':
      return SUBSCRIPTION_STATUS.active;
    case 'DID_CHANGE_RENEWAL_PREF':
      // An upgrade starts a new period at once; the other subtypes only change the next renewal.
      return subtype === 'UPGRADE' ? SUBSCRIPTION_STATUS.active : null;
    case 'DID_FAIL_TO_RENEW':
      return subtype === 'GRACE_PERIOD' ? SUBSCRIPTION_STATUS.gracePeriod : SUBSCRIPTION_STATUS.billingRetry;
    case 'GRACE_PERIOD_EXPIRED':
      // Apple keeps retrying billing after the grace period ends, so this is billing retry, not expiry.
      return SUBSCRIPTION_STATUS.billingRetry;
    case 'EXPIRED':
      return SUBSCRIPTION_STATUS.expired;
    case 'REVOKE':
      return SUBSCRIPTION_STATUS.revoked;
    default:
      return null;
  }
}

/**
 * The purchase update a notification carries. Signed transaction and renewal info are
 * taken from every notification, recorded-only types included (see RECORDED_ONLY_KEEPS);
 * the status only where the table says the type applies it.
 */
export function mapNotification(verified: VerifiedNotification): MappedNotification {
  const { payload, transaction, renewalInfo } = verified;
  const handling = describeNotification(payload.notificationType, payload.subtype);
  const applies = handling.kind === 'applies' ? handling.applies : RECORDED_ONLY_KEEPS;
  const data = payload.data;
  const update: PurchaseUpdate = { transactions: [] };

  if (transaction && applies.includes('transaction')) {
    // The nested JWS stays inside the stored signedPayload (notificationRecord); the
    // record names the notification instead of keeping a second copy.
    update.transactions.push({
      record: transactionFromPayload(transaction, 'v2'),
      signedTransaction: null,
      signedInNotification: payload.notificationUUID,
    });
  }
  if (renewalInfo && applies.includes('renewal')) {
    update.renewal = { record: renewalFromPayload(renewalInfo, 'v2'), signedRenewalInfo: null, signedInNotification: payload.notificationUUID };
  }
  const originalTransactionId = transaction?.originalTransactionId ?? renewalInfo?.originalTransactionId ?? null;
  const signedDate = new Date(payload.signedDate);
  if (applies.includes('status') && originalTransactionId !== null) {
    const appleStatus = statusFromNotification(payload.notificationType, payload.subtype, data?.status);
    if (appleStatus !== null) update.status = { originalTransactionId, appleStatus, statusSignedDate: signedDate };
  }

  return {
    handling,
    outcome: handling.kind === 'applies' ? 'applied' : 'recorded',
    update,
    notificationUUID: payload.notificationUUID,
    notificationType: String(payload.notificationType),
    subtype: typeof payload.subtype === 'string' && payload.subtype !== '' ? payload.subtype : null,
    environment: data?.environment ?? payload.summary?.environment ?? payload.appData?.environment ?? transaction?.environment ?? null,
    originalTransactionId,
    transactionId: transaction?.transactionId ?? null,
    signedDate,
  };
}

/** The `notifications` row of a mapped notification; the raw signedPayload is kept for audit and replay. */
export function notificationRecord(mapped: MappedNotification, signedPayload: string, source: NotificationSource, receivedAt: Date): NotificationRecord {
  return {
    id: mapped.notificationUUID,
    version: 'v2',
    notificationType: mapped.notificationType,
    subtype: mapped.subtype,
    environment: mapped.environment,
    originalTransactionId: mapped.originalTransactionId,
    transactionId: mapped.transactionId,
    signedDate: mapped.signedDate,
    payload: signedPayload,
    source,
    outcome: mapped.outcome,
    receivedAt,
  };
}
