import { getTableColumns, sql } from 'drizzle-orm';
import type { Transaction } from '../db/client.js';
import { type ColumnOf, columnName, insertRows, onConflictReplace, selectList, tableName } from '../db/raw.js';
import { purchaseLinks, subscriptions, transactions } from '../db/schema.js';
import { notePurchases } from '../events/transaction-changes.js';
import { updateAnalytics } from './analytics.repository.js';
import { attribute } from './attribution.repository.js';
import { mergeRenewal, mergeStatus, mergeTransaction } from './merge.model.js';
import type { ApplyResult, PurchaseUpdate, RecordSource, StoredRenewal, StoredStatus, StoredTransaction } from './purchase-update.js';

// Writes signed purchase data through the pure merge rules, so the stored state is the
// same whatever order and however often Apple (or the API, or a replay) delivers it.
// Every writer of a purchase holds a transaction-scoped advisory lock on its
// originalTransactionId (lockPurchases), so concurrent deliveries for one purchase never
// lose updates. Many updates go through one fixed set of multi-row reads and upserts (the
// merge rules run in memory, in update order, exactly as that many single updates in a
// row would); a single update is a batch of one. This is the ingest's group commit, so
// its statements are hand-built and go to the transaction's driver (src/db/raw.ts).

// The columns the merge rules read: everything but the signed evidence.
// The app stays out until the statements are per app (issue 19): every row is the app `default`'s, its column default.
const { signedTransaction: _jws, signedInNotification: _in, appId: _txApp, ...transactionColumns } = getTableColumns(transactions);
const { signedRenewalInfo: _renewalJws, renewalSignedInNotification: _renewalIn, appId: _subApp, ...subscriptionColumns } = getTableColumns(subscriptions);
type TransactionRow = Omit<typeof transactions.$inferSelect, 'signedTransaction' | 'signedInNotification' | 'appId'>;
type SubscriptionRow = Omit<typeof subscriptions.$inferSelect, 'signedRenewalInfo' | 'renewalSignedInNotification' | 'appId'>;
// Built once: they depend on the schema only.
const SELECT_TRANSACTIONS = `select ${selectList(transactions, Object.keys(transactionColumns) as Array<ColumnOf<typeof transactions>>)} from ${tableName(transactions)} where ${columnName(transactions, 'transactionId')} = any($1::text[])`;
const SELECT_SUBSCRIPTIONS = `select ${selectList(subscriptions, Object.keys(subscriptionColumns) as Array<ColumnOf<typeof subscriptions>>)} from ${tableName(subscriptions)} where ${columnName(subscriptions, 'originalTransactionId')} = any($1::text[])`;
const UPSERT_TRANSACTIONS = onConflictReplace(transactions, 'transactionId');
const UPSERT_SUBSCRIPTIONS = onConflictReplace(subscriptions, 'originalTransactionId');
const UPSERT_STATUS_ONLY = onConflictReplace(subscriptions, 'originalTransactionId', ['appleStatus', 'statusSignedDate', 'updatedAt']);
// One statement takes every lock, in the order of the (sorted) array.
const LOCK_PURCHASES = 'select count(pg_advisory_xact_lock(hashtextextended(k, 0))) from unnest($1::text[]) as k';

export interface ApplyOptions {
  /** The service clock's time of this write: the rows' updatedAt. */
  now: Date;
  /**
   * The caller already holds locks that keep every other writer of these purchases out
   * (e.g. the replay's table locks), so the per-purchase advisory locks are skipped: a
   * transaction that applies thousands of purchases would otherwise exhaust PostgreSQL's
   * lock table (max_locks_per_transaction).
   */
  locksHeld?: boolean;
}

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
    offerDiscountType: row.offerDiscountType,
    offerPeriod: row.offerPeriod,
    revocationType: row.revocationType,
    revocationPercentage: row.revocationPercentage,
    appTransactionId: row.appTransactionId,
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
    renewalPrice: row.renewalPrice,
    renewalCurrency: row.renewalCurrency,
    offerType: row.renewalOfferType,
    offerIdentifier: row.renewalOfferIdentifier,
    offerDiscountType: row.renewalOfferDiscountType,
    offerPeriod: row.renewalOfferPeriod,
    eligibleWinBackOfferIds: row.eligibleWinBackOfferIds,
    appTransactionId: row.appTransactionId,
    signedDate: row.renewalSignedDate,
    environment: row.environment ?? '',
    ...(row.renewalSource ? { source: row.renewalSource as RecordSource } : {}),
  };
}

export function statusFromRow(row: SubscriptionRow): StoredStatus | undefined {
  if (row.statusSignedDate === null) return undefined;
  return { originalTransactionId: row.originalTransactionId, appleStatus: row.appleStatus, statusSignedDate: row.statusSignedDate };
}

/**
 * The one way a writer locks purchases, until its transaction ends: every writer of a
 * purchase (applyPurchaseUpdates, linking, the V1 and receipt paths) takes the advisory
 * lock of its originalTransactionId, all in one statement and in sorted order, so two
 * writers never wait on each other in a cycle.
 *
 * `'all'` locks the purchase tables instead, for a transaction that rewrites every
 * purchase (the replay's reset): per-purchase locks would pile up until commit and
 * overflow PostgreSQL's lock table (max_locks_per_transaction × max_connections) past a
 * few thousand purchases. SHARE ROW EXCLUSIVE makes every other writer wait (it conflicts
 * with the ROW EXCLUSIVE that writes take) while plain reads, and SELECT ... FOR SHARE, go
 * on. Such a caller then applies with `locksHeld`.
 */
export async function lockPurchases(tx: Transaction, purchases: readonly string[] | 'all'): Promise<void> {
  if (purchases === 'all') {
    await tx.execute(sql`lock table ${transactions}, ${subscriptions}, ${purchaseLinks} in share row exclusive mode`);
    return;
  }
  if (purchases.length === 0) return;
  await tx.driver.query(LOCK_PURCHASES, [[...new Set(purchases)].sort().map((id) => `purchase:${id}`)]);
}

function emptySubscription(originalTransactionId: string): SubscriptionRow {
  return {
    originalTransactionId,
    environment: null,
    productId: null,
    autoRenewProductId: null,
    autoRenewStatus: null,
    expirationIntent: null,
    isInBillingRetryPeriod: null,
    gracePeriodExpiresDate: null,
    renewalDate: null,
    priceIncreaseStatus: null,
    renewalPrice: null,
    renewalCurrency: null,
    renewalOfferType: null,
    renewalOfferIdentifier: null,
    renewalOfferDiscountType: null,
    renewalOfferPeriod: null,
    eligibleWinBackOfferIds: null,
    appTransactionId: null,
    renewalSignedDate: null,
    renewalSource: null,
    appleStatus: null,
    statusSignedDate: null,
    updatedAt: new Date(0),
  };
}

function purchasesOf(update: PurchaseUpdate): string[] {
  const ids = new Set<string>();
  for (const { record } of update.transactions) ids.add(record.originalTransactionId);
  if (update.renewal) ids.add(update.renewal.record.originalTransactionId);
  if (update.status) ids.add(update.status.originalTransactionId);
  if (update.renewal && update.status && update.status.originalTransactionId !== update.renewal.record.originalTransactionId) {
    throw new Error('renewal info and status of one update must belong to the same purchase');
  }
  return [...ids].sort();
}

/**
 * Applies signed (or V1) purchase data inside the caller's database transaction, for
 * each of `updates` in order. Callers pass `tx` from `db.transaction`; nothing here commits.
 */
export async function applyPurchaseUpdates(tx: Transaction, updates: readonly PurchaseUpdate[], options: ApplyOptions): Promise<ApplyResult[]> {
  const results: ApplyResult[] = updates.map((update) => ({
    originalTransactionIds: purchasesOf(update),
    transactionsWritten: 0,
    renewalWritten: false,
    statusWritten: false,
    attributed: new Map(),
  }));
  const allIds = [...new Set(results.flatMap((result) => result.originalTransactionIds))].sort();
  if (allIds.length === 0) return results;
  // Their owners' answers are compared before the transaction commits (src/events/).
  notePurchases(tx, allIds);

  if (!options.locksHeld) await lockPurchases(tx, allIds);
  const previous = await writeTransactions(tx, updates, results, options.now);
  await writeSubscriptions(tx, updates, results, options.now);
  // The analytics tables follow every purchase this write changed (a redelivery changes none).
  const changed = results.filter((r) => r.transactionsWritten > 0 || r.renewalWritten || r.statusWritten).flatMap((r) => r.originalTransactionIds);
  await updateAnalytics(tx, [...new Set(changed)].sort(), previous, options.now);
  await attribute(tx, updates, results, options.now);
  return results;
}

/** applyPurchaseUpdates for one update. */
export async function applyPurchaseUpdate(tx: Transaction, update: PurchaseUpdate, options: ApplyOptions): Promise<ApplyResult> {
  const [result] = await applyPurchaseUpdates(tx, [update], options);
  return result!;
}

/** Writes the transactions; answers the stored version (undefined: none) of each one it changed, as it was before. */
async function writeTransactions(
  tx: Transaction,
  updates: readonly PurchaseUpdate[],
  results: ApplyResult[],
  now: Date,
): Promise<Map<string, StoredTransaction | undefined>> {
  const previous = new Map<string, StoredTransaction | undefined>();
  const ids = [...new Set(updates.flatMap((update) => update.transactions.map(({ record }) => record.transactionId)))];
  if (ids.length === 0) return previous;
  const rows = await tx.driver.query<TransactionRow>(SELECT_TRANSACTIONS, [ids]);
  const current = new Map<string, StoredTransaction>(rows.map((row) => [row.transactionId, transactionFromRow(row)]));
  const writes = new Map<string, typeof transactions.$inferInsert>();
  updates.forEach((update, index) => {
    for (const { record, signedTransaction, signedInNotification } of update.transactions) {
      const before = current.get(record.transactionId);
      const merged = mergeTransaction(before, record);
      if (merged === before) continue;
      if (!previous.has(record.transactionId)) previous.set(record.transactionId, before);
      const { source, ...rest } = merged;
      writes.set(record.transactionId, {
        ...rest,
        source: source ?? 'v2',
        signedTransaction,
        signedInNotification: signedInNotification ?? null,
        updatedAt: now,
      });
      current.set(record.transactionId, merged);
      results[index]!.transactionsWritten += 1;
    }
  });
  if (writes.size > 0) await insertRows(tx, transactions, [...writes.values()], UPSERT_TRANSACTIONS);
  return previous;
}

/**
 * Renewal info and status advance independently. A subscription whose renewal info
 * changed is written whole, with the new renewal's evidence; one whose status alone
 * changed gets only its status columns, so its renewal evidence is never read or rewritten.
 */
async function writeSubscriptions(tx: Transaction, updates: readonly PurchaseUpdate[], results: ApplyResult[], now: Date): Promise<void> {
  const idOf = (update: PurchaseUpdate) => update.renewal?.record.originalTransactionId ?? update.status?.originalTransactionId;
  const ids = [...new Set(updates.map(idOf).filter((id): id is string => id !== undefined))];
  if (ids.length === 0) return;
  const rows = await tx.driver.query<SubscriptionRow>(SELECT_SUBSCRIPTIONS, [ids]);
  const current = new Map<string, SubscriptionRow | undefined>(rows.map((row) => [row.originalTransactionId, row]));
  const statusChanged = new Set<string>();
  // originalTransactionId → evidence of the renewal info written in this batch
  const renewalChanged = new Map<string, { signedRenewalInfo: string | null; renewalSignedInNotification: string | null }>();
  updates.forEach((update, index) => {
    const id = idOf(update);
    if (id === undefined) return;
    const row = current.get(id);
    const set: Partial<SubscriptionRow> = {};
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
          renewalPrice: merged.renewalPrice,
          renewalCurrency: merged.renewalCurrency,
          renewalOfferType: merged.offerType,
          renewalOfferIdentifier: merged.offerIdentifier,
          renewalOfferDiscountType: merged.offerDiscountType,
          renewalOfferPeriod: merged.offerPeriod,
          eligibleWinBackOfferIds: merged.eligibleWinBackOfferIds,
          appTransactionId: merged.appTransactionId,
          renewalSignedDate: merged.signedDate,
          renewalSource: merged.source ?? 'v2',
        });
        renewalChanged.set(id, {
          signedRenewalInfo: update.renewal.signedRenewalInfo,
          renewalSignedInNotification: update.renewal.signedInNotification ?? null,
        });
        results[index]!.renewalWritten = true;
      }
    }
    if (update.status) {
      const before = row ? statusFromRow(row) : undefined;
      const merged = mergeStatus(before, update.status);
      if (merged !== before) {
        Object.assign(set, { appleStatus: merged.appleStatus, statusSignedDate: merged.statusSignedDate });
        statusChanged.add(id);
        results[index]!.statusWritten = true;
      }
    }
    if (Object.keys(set).length === 0) return;
    current.set(id, { ...(row ?? emptySubscription(id)), ...set, updatedAt: now });
  });
  if (renewalChanged.size > 0) {
    await insertRows(
      tx,
      subscriptions,
      [...renewalChanged].map(([id, evidence]) => ({ ...current.get(id)!, ...evidence })),
      UPSERT_SUBSCRIPTIONS,
    );
  }
  const statusOnly = [...statusChanged].filter((id) => !renewalChanged.has(id));
  if (statusOnly.length > 0) {
    await insertRows(
      tx,
      subscriptions,
      statusOnly.map((id) => {
        const row = current.get(id)!;
        return { originalTransactionId: id, appleStatus: row.appleStatus, statusSignedDate: row.statusSignedDate, updatedAt: row.updatedAt };
      }),
      UPSERT_STATUS_ONLY,
    );
  }
}
