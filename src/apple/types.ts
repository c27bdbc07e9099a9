// Decoded payloads of Apple's signed data, named as in Apple's App Store Server API
// documentation. Enumerations are open: a value Apple adds later passes through as its
// raw string or number instead of failing verification.

type Open<T extends string | number> = T | (T extends string ? string & {} : number & {});

export const ENVIRONMENTS = ['Production', 'Sandbox', 'Xcode', 'LocalTesting'] as const;
export type KnownEnvironment = (typeof ENVIRONMENTS)[number];
export type Environment = Open<KnownEnvironment>;

export const NOTIFICATION_TYPES = [
  'CONSUMPTION_REQUEST',
  'DID_CHANGE_RENEWAL_PREF',
  'DID_CHANGE_RENEWAL_STATUS',
  'DID_FAIL_TO_RENEW',
  'DID_RENEW',
  'EXPIRED',
  'EXTERNAL_PURCHASE_TOKEN',
  'GRACE_PERIOD_EXPIRED',
  'METADATA_UPDATE',
  'MIGRATION',
  'OFFER_REDEEMED',
  'ONE_TIME_CHARGE',
  'PRICE_CHANGE',
  'PRICE_INCREASE',
  'REFUND',
  'REFUND_DECLINED',
  'REFUND_REVERSED',
  'RENEWAL_EXTENDED',
  'RENEWAL_EXTENSION',
  'RESCIND_CONSENT',
  'REVOKE',
  'SUBSCRIBED',
  'TEST',
] as const;
export type NotificationTypeV2 = Open<(typeof NOTIFICATION_TYPES)[number]>;

export const NOTIFICATION_SUBTYPES = [
  'ACCEPTED',
  'AUTO_RENEW_DISABLED',
  'AUTO_RENEW_ENABLED',
  'BILLING_RECOVERY',
  'BILLING_RETRY',
  'DOWNGRADE',
  'FAILURE',
  'GRACE_PERIOD',
  'INITIAL_BUY',
  'PENDING',
  'PRICE_INCREASE',
  'PRODUCT_NOT_FOR_SALE',
  'RESUBSCRIBE',
  'SUMMARY',
  'UNREPORTED',
  'UPGRADE',
  'VOLUNTARY',
] as const;
export type Subtype = Open<(typeof NOTIFICATION_SUBTYPES)[number]>;

/** Apple's product types (`type` of a transaction), by name. */
export const PRODUCT_TYPE = {
  autoRenewable: 'Auto-Renewable Subscription',
  nonConsumable: 'Non-Consumable',
  consumable: 'Consumable',
  nonRenewing: 'Non-Renewing Subscription',
} as const;
export const PRODUCT_TYPES = [PRODUCT_TYPE.autoRenewable, PRODUCT_TYPE.nonConsumable, PRODUCT_TYPE.consumable, PRODUCT_TYPE.nonRenewing] as const;
export type ProductType = Open<(typeof PRODUCT_TYPES)[number]>;

export type OwnershipType = Open<'PURCHASED' | 'FAMILY_SHARED'>;

/** Apple's subscription statuses (`status` of Get All Subscription Statuses and of a notification's data), by name. */
export const SUBSCRIPTION_STATUS = {
  active: 1,
  expired: 2,
  billingRetry: 3,
  gracePeriod: 4,
  revoked: 5,
} as const;
export type KnownSubscriptionStatus = (typeof SUBSCRIPTION_STATUS)[keyof typeof SUBSCRIPTION_STATUS];
/** Apple's subscription status: 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked. */
export type SubscriptionStatus = Open<KnownSubscriptionStatus>;

export interface NotificationData {
  appAppleId?: number;
  bundleId?: string;
  bundleVersion?: string;
  environment?: Environment;
  signedTransactionInfo?: string;
  signedRenewalInfo?: string;
  status?: SubscriptionStatus;
  consumptionRequestReason?: string;
}

export interface NotificationSummary {
  environment?: Environment;
  appAppleId?: number;
  bundleId?: string;
  productId?: string;
  requestIdentifier?: string;
  storefrontCountryCodes?: string[];
  succeededCount?: number;
  failedCount?: number;
}

export interface ExternalPurchaseToken {
  externalPurchaseId?: string;
  tokenCreationDate?: number;
  appAppleId?: number;
  bundleId?: string;
}

export interface AppData {
  appAppleId?: number;
  bundleId?: string;
  environment?: Environment;
  signedAppTransactionInfo?: string;
}

export interface ResponseBodyV2DecodedPayload {
  notificationType: NotificationTypeV2;
  subtype?: Subtype;
  notificationUUID: string;
  data?: NotificationData;
  summary?: NotificationSummary;
  externalPurchaseToken?: ExternalPurchaseToken;
  appData?: AppData;
  version?: string;
  signedDate: number;
}

export interface JWSTransactionDecodedPayload {
  originalTransactionId: string;
  transactionId: string;
  webOrderLineItemId?: string;
  bundleId: string;
  productId: string;
  subscriptionGroupIdentifier?: string;
  purchaseDate: number;
  originalPurchaseDate?: number;
  expiresDate?: number;
  quantity?: number;
  type: ProductType;
  appAccountToken?: string;
  inAppOwnershipType?: OwnershipType;
  signedDate: number;
  revocationReason?: number;
  revocationDate?: number;
  isUpgraded?: boolean;
  offerType?: number;
  offerIdentifier?: string;
  environment: Environment;
  storefront?: string;
  storefrontId?: string;
  transactionReason?: Open<'PURCHASE' | 'RENEWAL'>;
  currency?: string;
  price?: number;
  offerDiscountType?: string;
  appTransactionId?: string;
  offerPeriod?: string;
  revocationType?: string;
  revocationPercentage?: number;
}

export interface JWSRenewalInfoDecodedPayload {
  originalTransactionId: string;
  autoRenewProductId?: string;
  productId: string;
  autoRenewStatus?: Open<0 | 1>;
  expirationIntent?: number;
  isInBillingRetryPeriod?: boolean;
  priceIncreaseStatus?: number;
  gracePeriodExpiresDate?: number;
  offerType?: number;
  offerIdentifier?: string;
  signedDate: number;
  environment: Environment;
  recentSubscriptionStartDate?: number;
  renewalDate?: number;
  currency?: string;
  renewalPrice?: number;
  offerDiscountType?: string;
  eligibleWinBackOfferIds?: string[];
  appAccountToken?: string;
  appTransactionId?: string;
  offerPeriod?: string;
}

export interface AppTransaction {
  receiptType?: Environment;
  appAppleId?: number;
  bundleId: string;
  applicationVersion?: string;
  versionExternalIdentifier?: number;
  receiptCreationDate?: number;
  originalPurchaseDate?: number;
  originalApplicationVersion?: string;
  deviceVerification?: string;
  deviceVerificationNonce?: string;
  preorderDate?: number;
  appTransactionId?: string;
  originalPlatform?: string;
  signedDate?: number;
  environment?: Environment;
}

/** A notification whose outer JWS and every nested JWS passed verification. */
export interface VerifiedNotification {
  payload: ResponseBodyV2DecodedPayload;
  transaction?: JWSTransactionDecodedPayload;
  renewalInfo?: JWSRenewalInfoDecodedPayload;
  appTransaction?: AppTransaction;
}

/**
 * A JWS's payload read before anything about it is verified (`readUnverifiedPayload`),
 * for a caller that must look first, as the webhook does to choose the app. Nothing in it
 * is trusted; handed back to the verifier with that same JWS, it spares a second decode.
 */
export interface UnverifiedPayload {
  /** The JWS it was read from. */
  readonly jws: string;
  /** The payload segment parsed as JSON; undefined when the JWS has not three parts or the segment is no base64url JSON. */
  readonly payload: unknown;
}

/**
 * What the rest of the service needs from the verifier. Implemented in
 * `src/apple/verifier/`; every method throws `VerificationError` on failure.
 */
export interface SignedDataVerifier {
  /**
   * `unverified`: the payload as read before verification. The signature is still checked
   * over `signedPayload`; the early decode replaces the verifier's own only when it was
   * read from that very string (and is a JSON object), and then passes every check a
   * fresh decode would.
   */
  verifyNotification(signedPayload: string, unverified?: UnverifiedPayload): Promise<VerifiedNotification>;
  verifyTransaction(jws: string): Promise<JWSTransactionDecodedPayload>;
  verifyRenewalInfo(jws: string): Promise<JWSRenewalInfoDecodedPayload>;
  verifyAppTransaction(jws: string): Promise<AppTransaction>;
}
