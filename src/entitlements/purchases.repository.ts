import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { purchaseLinkEvents, purchaseLinks, subscriptions, transactions, users } from '../db/schema.js';
import {
  mergeRenewal,
  mergeStatus,
  mergeTransaction,
  type RecordSource,
  type StoredRenewal,
  type StoredStatus,
  type StoredTransaction,
} from './merge.model.js';

// Writes signed purchase data through the pure merge rules, so the stored state is the
// same whatever order and however often Apple (or the API, or a replay) delivers it.
// Every writer of a purchase holds a transaction-scoped advisory lock on its
// originalTransactionId, so concurrent deliveries for one purchase never lose updates.

export interface PurchaseUpdate {
  transactions: Array<{ record: StoredTransaction; signedTransaction: string | null }>;
  renewal?: { record: StoredRenewal; signedRenewalInfo: string | null } | undefined;
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

type TransactionRow = typeof transactions.$inferSelect;
type SubscriptionRow = typeof subscriptions.$inferSelect;

export function transactionFromRow(row: TransactionRow): StoredTransaction {
  return {
    transactionId: row.transactionId,
    originalTransactionId: row.originalTransactionId,
    webOrderLineItemId: row.webOrderLineItemId,
    bundleId: row.bundleId,
    productId: row.productId,
    subscriptionGroupIdentifier: row.subscriptionGroupIdentifier,
    productType: row.productType,
    environment: row.environment,
    purchaseDate: row.purchaseDate,
    originalPurchaseDate: row.originalPurchaseDate,
    expiresDate: row.expiresDate,
    quantity: row.quantity,
    ownershipType: row.ownershipType,
    revocationDate: row.revocationDate,
    revocationReason: row.revocationReason,
    isUpgraded: row.isUpgraded,
    offerType: row.offerType,
    offerIdentifier: row.offerIdentifier,
    appAccountToken: row.appAccountToken,
    storefront: row.storefront,
    transactionReason: row.transactionReason,
    price: row.price,
    currency: row.currency,
    signedDate: row.signedDate,
    source: row.source as RecordSource,
  };
}

export function renewalFromRow(row: SubscriptionRow): StoredRenewal | undefined {
  if (row.renewalSignedDate === null || row.productId === null) return undefined;
  return {
    originalTransactionId: row.originalTransactionId,
    productId: row.productId,
    autoRenewProductId: row.autoRenewProductId,
    autoRenewStatus: row.autoRenewStatus,
    expirationIntent: row.expirationIntent,
    isInBillingRetryPeriod: row.isInBillingRetryPeriod,
    gracePeriodExpiresDate: row.gracePeriodExpiresDate,
    renewalDate: row.renewalDate,
    priceIncreaseStatus: row.priceIncreaseStatus,
    signedDate: row.renewalSignedDate,
    environment: row.environment ?? '',
    ...(row.renewalSource ? { source: row.renewalSource as RecordSource } : {}),
  };
}

export function statusFromRow(row: SubscriptionRow): StoredStatus | undefined {
  if (row.statusSignedDate === null) return undefined;
  return { originalTransactionId: row.originalTransactionId, appleStatus: row.appleStatus, statusSignedDate: row.statusSignedDate };
}

function transactionValues(record: StoredTransaction, signedTransaction: string | null) {
  const { source, ...rest } = record;
  return { ...rest, source: source ?? 'v2', signedTransaction, updatedAt: new Date() };
}

/** Serialises writers of the same purchases; keys are sorted so two updates never deadlock. */
export async function lockPurchases(executor: Executor, originalTransactionIds: readonly string[]): Promise<void> {
  for (const id of [...new Set(originalTransactionIds)].sort()) {
    await executor.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`purchase:${id}`}, 0))`);
  }
}

/**
 * Applies signed (or V1) purchase data inside the caller's database transaction.
 * Callers pass `tx` from `db.transaction`; nothing here commits.
 */
export async function applyPurchaseUpdate(tx: Executor, update: PurchaseUpdate): Promise<ApplyResult> {
  const ids = new Set<string>();
  for (const { record } of update.transactions) ids.add(record.originalTransactionId);
  if (update.renewal) ids.add(update.renewal.record.originalTransactionId);
  if (update.status) ids.add(update.status.originalTransactionId);
  const originalTransactionIds = [...ids].sort();
  const result: ApplyResult = {
    originalTransactionIds,
    transactionsWritten: 0,
    renewalWritten: false,
    statusWritten: false,
    attributed: new Map(),
  };
  if (originalTransactionIds.length === 0) return result;
  await lockPurchases(tx, originalTransactionIds);

  if (update.transactions.length > 0) {
    const existingRows = await tx
      .select()
      .from(transactions)
      .where(inArray(transactions.transactionId, update.transactions.map(({ record }) => record.transactionId)));
    const existing = new Map(existingRows.map((row) => [row.transactionId, transactionFromRow(row)]));
    for (const { record, signedTransaction } of update.transactions) {
      const before = existing.get(record.transactionId);
      const merged = mergeTransaction(before, record);
      if (merged === before) continue;
      const values = transactionValues(merged, signedTransaction);
      await tx.insert(transactions).values(values).onConflictDoUpdate({ target: transactions.transactionId, set: values });
      existing.set(record.transactionId, merged);
      result.transactionsWritten += 1;
    }
  }

  if (update.renewal || update.status) {
    const id = (update.renewal?.record.originalTransactionId ?? update.status?.originalTransactionId)!;
    if (update.renewal && update.status && update.status.originalTransactionId !== id) {
      throw new Error('renewal info and status of one update must belong to the same purchase');
    }
    const [row] = await tx.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, id));
    const set: Partial<typeof subscriptions.$inferInsert> = {};
    if (update.renewal) {
      const before = row ? renewalFromRow(row) : undefined;
      const merged = mergeRenewal(before, update.renewal.record);
      if (merged !== before) {
        Object.assign(set, {
          environment: merged.environment,
          productId: merged.productId,
          autoRenewProductId: merged.autoRenewProductId,
          autoRenewStatus: merged.autoRenewStatus,
          expirationIntent: merged.expirationIntent,
          isInBillingRetryPeriod: merged.isInBillingRetryPeriod,
          gracePeriodExpiresDate: merged.gracePeriodExpiresDate,
          renewalDate: merged.renewalDate,
          priceIncreaseStatus: merged.priceIncreaseStatus,
          renewalSignedDate: merged.signedDate,
          renewalSource: merged.source ?? 'v2',
          signedRenewalInfo: merged === update.renewal.record ? update.renewal.signedRenewalInfo : (row?.signedRenewalInfo ?? null),
        });
        result.renewalWritten = true;
      }
    }
    if (update.status) {
      const before = row ? statusFromRow(row) : undefined;
      const merged = mergeStatus(before, update.status);
      if (merged !== before) {
        Object.assign(set, { appleStatus: merged.appleStatus, statusSignedDate: merged.statusSignedDate });
        result.statusWritten = true;
      }
    }
    if (Object.keys(set).length > 0) {
      const values = { ...set, originalTransactionId: id, updatedAt: new Date() };
      await tx.insert(subscriptions).values(values).onConflictDoUpdate({ target: subscriptions.originalTransactionId, set: values });
    }
  }

  for (const { record } of update.transactions) {
    if (record.appAccountToken === null || result.attributed.has(record.originalTransactionId)) continue;
    const userId = await linkByAppAccountToken(tx, record.originalTransactionId, record.appAccountToken);
    if (userId !== null) result.attributed.set(record.originalTransactionId, userId);
  }
  return result;
}

/**
 * A purchase that carries an appAccountToken belongs to the token's user; a token no
 * user holds yet is a UUID user id of its own (SPEC.md). An existing link made by the
 * app's backend is left alone. Returns the user the purchase is linked to now.
 */
export async function linkByAppAccountToken(tx: Executor, originalTransactionId: string, token: string): Promise<string | null> {
  const normalised = token.toLowerCase();
  const [owner] = await tx.select({ userId: users.userId }).from(users).where(eq(users.appAccountToken, normalised));
  let userId = owner?.userId;
  if (userId === undefined) {
    await tx.insert(users).values({ userId: normalised, appAccountToken: normalised }).onConflictDoNothing();
    const [created] = await tx.select({ userId: users.userId }).from(users).where(eq(users.appAccountToken, normalised));
    userId = created?.userId;
    if (userId === undefined) return null;
  }
  const inserted = await tx
    .insert(purchaseLinks)
    .values({ originalTransactionId, userId, linkSource: 'app_account_token' })
    .onConflictDoNothing()
    .returning({ userId: purchaseLinks.userId });
  if (inserted.length > 0) {
    await tx.insert(purchaseLinkEvents).values({ originalTransactionId, fromUserId: null, toUserId: userId, reason: 'app_account_token' });
    return userId;
  }
  const [link] = await tx
    .select({ userId: purchaseLinks.userId })
    .from(purchaseLinks)
    .where(and(eq(purchaseLinks.originalTransactionId, originalTransactionId)));
  return link?.userId ?? null;
}
