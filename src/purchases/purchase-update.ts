import type { Environment, OwnershipType, ProductType } from '../apple/types.js';

// Types only: the stored records, what a purchase writer is given and what it answers.
// Kept apart from the repositories and the merge rules, so pure models (merge rules,
// notification mapping, the state model) and the attribution repository name them
// without importing a repository.

/** Where a stored record came from; the database fills it, the merge rules ignore its meaning. */
export type RecordSource = 'v2' | 'v1' | 'api';

/** One App Store transaction as stored; mirrors the `transactions` table. */
export interface StoredTransaction {
  transactionId: string;
  originalTransactionId: string;
  webOrderLineItemId: string | null;
  bundleId: string;
  productId: string;
  subscriptionGroupIdentifier: string | null;
  productType: ProductType;
  environment: Environment;
  purchaseDate: Date;
  originalPurchaseDate: Date | null;
  expiresDate: Date | null;
  quantity: number | null;
  ownershipType: OwnershipType | null;
  revocationDate: Date | null;
  revocationReason: number | null;
  isUpgraded: boolean;
  offerType: number | null;
  offerIdentifier: string | null;
  appAccountToken: string | null;
  storefront: string | null;
  transactionReason: string | null;
  price: number | null;
  currency: string | null;
  offerDiscountType: string | null;
  offerPeriod: string | null;
  revocationType: string | null;
  revocationPercentage: number | null;
  appTransactionId: string | null;
  signedDate: Date;
  source?: RecordSource;
}

/** A subscription's renewal info as stored, one per originalTransactionId. */
export interface StoredRenewal {
  originalTransactionId: string;
  productId: string;
  autoRenewProductId: string | null;
  /** 1 will renew, 0 turned off. */
  autoRenewStatus: number | null;
  expirationIntent: number | null;
  isInBillingRetryPeriod: boolean | null;
  gracePeriodExpiresDate: Date | null;
  renewalDate: Date | null;
  priceIncreaseStatus: number | null;
  renewalPrice: number | null;
  renewalCurrency: string | null;
  offerType: number | null;
  offerIdentifier: string | null;
  offerDiscountType: string | null;
  offerPeriod: string | null;
  eligibleWinBackOfferIds: string[] | null;
  appTransactionId: string | null;
  signedDate: Date;
  environment: Environment;
  source?: RecordSource;
}

/** Apple's last known status of a subscription (1 active … 5 revoked). */
export interface StoredStatus {
  originalTransactionId: string;
  appleStatus: number | null;
  /** signedDate of the notification (or API response) the status came from. */
  statusSignedDate: Date;
}

// The signed evidence of a record is kept once: a JWS that arrived inside a notification
// stays in that notification's stored signedPayload and the record names the notification
// (`signedInNotification`); a JWS that came alone (the Server API, an app's POST) is
// stored with the record. Neither is read back on the write path.
export interface PurchaseUpdate {
  transactions: Array<{ record: StoredTransaction; signedTransaction: string | null; signedInNotification?: string }>;
  renewal?: { record: StoredRenewal; signedRenewalInfo: string | null; signedInNotification?: string } | undefined;
  status?: StoredStatus | undefined;
}

export interface ApplyResult {
  originalTransactionIds: string[];
  transactionsWritten: number;
  renewalWritten: boolean;
  statusWritten: boolean;
  /** originalTransactionId → user it was attributed to by appAccountToken during this update. */
  attributed: Map<string, string>;
}
