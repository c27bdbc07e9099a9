import { and, eq, ne, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { purchaseLinks, subscriptions, transactions } from '../db/schema.js';
import type { RecordSource, StoredRenewal, StoredStatus, StoredTransaction } from './merge.model.js';
import { renewalFromRow, statusFromRow } from './purchases.repository.js';

/** Everything stored about one purchase (one originalTransactionId) of a user. */
export interface PurchaseRecords {
  originalTransactionId: string;
  transactions: StoredTransaction[];
  renewal: StoredRenewal | undefined;
  status: StoredStatus | undefined;
  /** Latest updated_at of the rows above. */
  updatedAt: Date;
}

export interface EntitlementsRepository {
  /** The user's linked purchases that can grant something (consumables left out), in one query. */
  purchasesOfUser(userId: string): Promise<PurchaseRecords[]>;
}

// The signed JWS columns are left out on purpose: they are most of a row's bytes and the
// entitlement answer never needs them.
const columns = {
  transactionId: transactions.transactionId,
  originalTransactionId: transactions.originalTransactionId,
  webOrderLineItemId: transactions.webOrderLineItemId,
  bundleId: transactions.bundleId,
  productId: transactions.productId,
  subscriptionGroupIdentifier: transactions.subscriptionGroupIdentifier,
  productType: transactions.productType,
  environment: transactions.environment,
  purchaseDate: transactions.purchaseDate,
  originalPurchaseDate: transactions.originalPurchaseDate,
  expiresDate: transactions.expiresDate,
  quantity: transactions.quantity,
  ownershipType: transactions.ownershipType,
  revocationDate: transactions.revocationDate,
  revocationReason: transactions.revocationReason,
  isUpgraded: transactions.isUpgraded,
  offerType: transactions.offerType,
  offerIdentifier: transactions.offerIdentifier,
  appAccountToken: transactions.appAccountToken,
  storefront: transactions.storefront,
  transactionReason: transactions.transactionReason,
  price: transactions.price,
  currency: transactions.currency,
  signedDate: transactions.signedDate,
  source: transactions.source,
  updatedAt: transactions.updatedAt,
  s: {
    originalTransactionId: subscriptions.originalTransactionId,
    environment: subscriptions.environment,
    productId: subscriptions.productId,
    autoRenewProductId: subscriptions.autoRenewProductId,
    autoRenewStatus: subscriptions.autoRenewStatus,
    expirationIntent: subscriptions.expirationIntent,
    isInBillingRetryPeriod: subscriptions.isInBillingRetryPeriod,
    gracePeriodExpiresDate: subscriptions.gracePeriodExpiresDate,
    renewalDate: subscriptions.renewalDate,
    priceIncreaseStatus: subscriptions.priceIncreaseStatus,
    renewalSignedDate: subscriptions.renewalSignedDate,
    renewalSource: subscriptions.renewalSource,
    appleStatus: subscriptions.appleStatus,
    statusSignedDate: subscriptions.statusSignedDate,
    updatedAt: subscriptions.updatedAt,
  },
};

export function createEntitlementsRepository({ db }: { db: Database }): EntitlementsRepository {
  // Prepared once per database handle: planning is skipped on every request after the first.
  const byUser = db
    .select(columns)
    .from(purchaseLinks)
    .innerJoin(transactions, eq(transactions.originalTransactionId, purchaseLinks.originalTransactionId))
    .leftJoin(subscriptions, eq(subscriptions.originalTransactionId, purchaseLinks.originalTransactionId))
    .where(and(eq(purchaseLinks.userId, sql.placeholder('userId')), ne(transactions.productType, 'Consumable')))
    .prepare('entitlements_purchases_of_user');

  return {
    async purchasesOfUser(userId) {
      const rows = await byUser.execute({ userId });
      const purchases = new Map<string, PurchaseRecords>();
      for (const { s, updatedAt, ...row } of rows) {
        let purchase = purchases.get(row.originalTransactionId);
        if (purchase === undefined) {
          purchase = {
            originalTransactionId: row.originalTransactionId,
            transactions: [],
            renewal: s ? renewalFromRow({ ...s, signedRenewalInfo: null }) : undefined,
            status: s ? statusFromRow({ ...s, signedRenewalInfo: null }) : undefined,
            updatedAt: s && s.updatedAt > updatedAt ? s.updatedAt : updatedAt,
          };
          purchases.set(row.originalTransactionId, purchase);
        } else if (updatedAt > purchase.updatedAt) {
          purchase.updatedAt = updatedAt;
        }
        purchase.transactions.push({ ...row, source: row.source as RecordSource });
      }
      return [...purchases.values()];
    },
  };
}
