// Request and response bodies of the App Store Server API, as Apple documents them.
// Answers are typed loosely on purpose: every field is optional and enumerations are open,
// because Apple adds fields and values without notice. Signed fields are verified before use
// by the caller, which keeps each JWS next to what it decoded.

import type { Environment, NotificationTypeV2, SubscriptionStatus, Subtype } from '../types.js';

type Open<T extends string | number> = T | (T extends string ? string & {} : number & {});

/** Milliseconds since the epoch, or a Date. */
export type Timestamp = number | Date;

export type TransactionHistoryProductType = Open<'AUTO_RENEWABLE' | 'NON_RENEWABLE' | 'CONSUMABLE' | 'NON_CONSUMABLE'>;

export interface TransactionHistoryQuery {
  /** `v2` (default) or Apple's deprecated `v1`. */
  version?: 'v1' | 'v2';
  revision?: string;
  startDate?: Timestamp;
  endDate?: Timestamp;
  productIds?: string[];
  productTypes?: TransactionHistoryProductType[];
  sort?: Open<'ASCENDING' | 'DESCENDING'>;
  subscriptionGroupIdentifiers?: string[];
  inAppOwnershipType?: Open<'PURCHASED' | 'FAMILY_SHARED'>;
  revoked?: boolean;
}

export interface HistoryResponse {
  revision?: string;
  hasMore?: boolean;
  bundleId?: string;
  appAppleId?: number;
  environment?: Environment;
  signedTransactions?: string[];
}

export interface TransactionInfoResponse {
  signedTransactionInfo?: string;
}

export interface LastTransactionsItem {
  status?: SubscriptionStatus;
  originalTransactionId?: string;
  signedTransactionInfo?: string;
  signedRenewalInfo?: string;
}

export interface SubscriptionGroupIdentifierItem {
  subscriptionGroupIdentifier?: string;
  lastTransactions?: LastTransactionsItem[];
}

export interface StatusResponse {
  environment?: Environment;
  bundleId?: string;
  appAppleId?: number;
  data?: SubscriptionGroupIdentifierItem[];
}

export interface NotificationHistoryRequest {
  startDate?: Timestamp;
  endDate?: Timestamp;
  notificationType?: NotificationTypeV2;
  notificationSubtype?: Subtype;
  transactionId?: string;
  onlyFailures?: boolean;
}

export interface SendAttemptItem {
  attemptDate?: number;
  sendAttemptResult?: string;
}

export interface NotificationHistoryResponseItem {
  signedPayload?: string;
  sendAttempts?: SendAttemptItem[];
}

export interface NotificationHistoryResponse {
  paginationToken?: string;
  hasMore?: boolean;
  notificationHistory?: NotificationHistoryResponseItem[];
}

export interface SendTestNotificationResponse {
  testNotificationToken?: string;
}

export interface CheckTestNotificationResponse {
  signedPayload?: string;
  sendAttempts?: SendAttemptItem[];
}

export interface OrderLookupResponse {
  /** 0 valid, 1 invalid. */
  status?: Open<0 | 1>;
  signedTransactions?: string[];
}

export interface UpdateAppAccountTokenRequest {
  appAccountToken: string;
}

/** Body of the current Send Consumption Information endpoint (v2). */
export interface ConsumptionRequest {
  customerConsented: boolean;
  sampleContentProvided: boolean;
  deliveryStatus: Open<'DELIVERED' | 'UNDELIVERED_QUALITY_ISSUE' | 'UNDELIVERED_WRONG_ITEM' | 'UNDELIVERED_SERVER_OUTAGE' | 'UNDELIVERED_OTHER'>;
  consumptionPercentage?: number;
  refundPreference?: Open<'DECLINE' | 'GRANT_FULL' | 'GRANT_PRORATED'>;
}

export interface ExtendRenewalDateRequest {
  extendByDays: number;
  /** 0 undeclared, 1 customer satisfaction, 2 other, 3 service issue or outage. */
  extendReasonCode: Open<0 | 1 | 2 | 3>;
  requestIdentifier: string;
}

export interface ExtendRenewalDateResponse {
  originalTransactionId?: string;
  webOrderLineItemId?: string;
  success?: boolean;
  effectiveDate?: number;
}

export interface MassExtendRenewalDateRequest extends ExtendRenewalDateRequest {
  productId: string;
  storefrontCountryCodes?: string[];
}

export interface MassExtendRenewalDateResponse {
  requestIdentifier?: string;
}

export interface MassExtendRenewalDateStatusResponse {
  requestIdentifier?: string;
  complete?: boolean;
  completeDate?: number;
  succeededCount?: number;
  failedCount?: number;
}
