import type { PgTable } from 'drizzle-orm/pg-core';
import { type Environment, type OwnershipType, PRODUCT_TYPE, type ProductType } from '../apple/types.js';
import type { DatabaseHandle, Transaction } from '../db/client.js';
import { groupWhileBusy, type Waiting } from '../db/group-while-busy.js';
import { type ColumnOf, columnName, readColumn, readType, tableName } from '../db/raw.js';
import { purchaseLinks, subscriptions, transactions } from '../db/schema.js';
import type { StoredStatus } from '../purchases/purchase-update.js';
import type { EntitlementPeriod, PurchaseRecords, RenewalTerms } from './entitlements.model.js';
import type { RenewalSignals } from './state.model.js';

export interface EntitlementsRepository {
  /** The user's linked purchases that can grant something (consumables left out). */
  purchasesOfUser(userId: string): Promise<PurchaseRecords[]>;
}

export interface EntitlementsRepositoryOptions {
  database: DatabaseHandle;
  /** Reads in flight at once; users asked for meanwhile share the next read. Default 2. */
  maxConcurrent?: number;
  /** Most users in one read. Default 64. */
  maxUsers?: number;
}

// This is the service's hottest path, so it skips the ORM (docs/architecture.md, "Database
// access"): one statement for every user asked for while the previous reads were in
// flight (`user_id = any($1)`), index scans only, the columns the state model reads
// (PeriodRecord, RenewalSignals, StoredStatus), rows as arrays (int8 prices as float8:
// node-postgres hands int8 back as a string). Each link is looked up once; a purchase's
// subscription row comes once, as a row of its own (transaction columns null), rather
// than repeated beside every transaction; the nulls cost next to nothing to send and parse.

// The columns of each kind of row, in select-list order: the statement and the decoder's
// offsets are both built from these lists, so they cannot drift apart.
const PERIOD_COLUMNS = [
  'transactionId',
  'productId',
  'productType',
  'environment',
  'purchaseDate',
  'originalPurchaseDate',
  'expiresDate',
  'ownershipType',
  'revocationDate',
  'isUpgraded',
  'appAccountToken',
  'signedDate',
  'offerType',
  'offerDiscountType',
  'offerIdentifier',
  'price',
  'currency',
  'revocationReason',
  'revocationType',
  'revocationPercentage',
] as const satisfies ReadonlyArray<ColumnOf<typeof transactions>>;
const SUBSCRIPTION_COLUMNS = [
  'productId',
  'autoRenewProductId',
  'autoRenewStatus',
  'isInBillingRetryPeriod',
  'gracePeriodExpiresDate',
  'renewalSignedDate',
  'appleStatus',
  'statusSignedDate',
  'renewalPrice',
  'renewalCurrency',
  'renewalDate',
  'expirationIntent',
  'priceIncreaseStatus',
] as const satisfies ReadonlyArray<ColumnOf<typeof subscriptions>>;

/** Each name's position in a row whose columns `names` fill from `first` on. */
function offsets<K extends string>(names: readonly K[], first: number): Readonly<Record<K, number>> {
  return Object.fromEntries(names.map((name, index) => [name, first + index])) as Record<K, number>;
}

// A row: user id, purchase, the transaction columns (null on subscription rows), the row's
// updated_at, the subscription columns (null on transaction rows).
const USER = 0;
const PURCHASE = 1;
const T = offsets(PERIOD_COLUMNS, 2);
const UPDATED_AT = 2 + PERIOD_COLUMNS.length;
const S = offsets(SUBSCRIPTION_COLUMNS, UPDATED_AT + 1);

function reads<Table extends PgTable>(table: Table, columns: ReadonlyArray<ColumnOf<Table>>, alias: string): string {
  return columns.map((column) => readColumn(table, column, alias)).join(', ');
}
function nulls<Table extends PgTable>(table: Table, columns: ReadonlyArray<ColumnOf<Table>>): string {
  return columns.map((column) => `null::${readType(table, column)}`).join(', ');
}

const CONSUMABLE = PRODUCT_TYPE.consumable;
const link = (column: ColumnOf<typeof purchaseLinks>) => columnName(purchaseLinks, column, 'l');
const PURCHASES_OF_USERS = `
select ${link('userId')}, ${link('originalTransactionId')}, r.*
from ${tableName(purchaseLinks)} l
cross join lateral (
  select ${reads(transactions, PERIOD_COLUMNS, 't')}, ${columnName(transactions, 'updatedAt', 't')}, ${nulls(subscriptions, SUBSCRIPTION_COLUMNS)}
  from ${tableName(transactions)} t
  where ${columnName(transactions, 'originalTransactionId', 't')} = ${link('originalTransactionId')}
    and ${columnName(transactions, 'productType', 't')} <> '${CONSUMABLE}'
  union all
  select ${nulls(transactions, PERIOD_COLUMNS)}, ${columnName(subscriptions, 'updatedAt', 's')}, ${reads(subscriptions, SUBSCRIPTION_COLUMNS, 's')}
  from ${tableName(subscriptions)} s
  where ${columnName(subscriptions, 'originalTransactionId', 's')} = ${link('originalTransactionId')}
) r
where ${link('userId')} = any($1::text[])`;

const PURCHASES_OF_USERS_NAME = 'entitlements_purchases_of_users';

const isTransactionRow = (row: unknown[]) => row[T.transactionId] !== null;

function periodAt(row: unknown[]): EntitlementPeriod {
  return {
    originalTransactionId: row[PURCHASE] as string,
    transactionId: row[T.transactionId] as string,
    productId: row[T.productId] as string,
    productType: row[T.productType] as ProductType,
    environment: row[T.environment] as Environment,
    purchaseDate: row[T.purchaseDate] as Date,
    originalPurchaseDate: row[T.originalPurchaseDate] as Date | null,
    expiresDate: row[T.expiresDate] as Date | null,
    ownershipType: row[T.ownershipType] as OwnershipType | null,
    revocationDate: row[T.revocationDate] as Date | null,
    isUpgraded: row[T.isUpgraded] as boolean,
    appAccountToken: row[T.appAccountToken] as string | null,
    signedDate: row[T.signedDate] as Date,
    offerType: row[T.offerType] as number | null,
    offerDiscountType: row[T.offerDiscountType] as string | null,
    offerIdentifier: row[T.offerIdentifier] as string | null,
    price: row[T.price] as number | null,
    currency: row[T.currency] as string | null,
    revocationReason: row[T.revocationReason] as number | null,
    revocationType: row[T.revocationType] as string | null,
    revocationPercentage: row[T.revocationPercentage] as number | null,
  };
}

/** Renewal info is stored once a signed renewal info arrived (with its product id). */
const hasRenewal = (row: unknown[]) => row[S.productId] !== null && row[S.renewalSignedDate] !== null;

function renewalAt(row: unknown[]): RenewalSignals | undefined {
  if (!hasRenewal(row)) return undefined;
  return {
    autoRenewProductId: row[S.autoRenewProductId] as string | null,
    autoRenewStatus: row[S.autoRenewStatus] as number | null,
    isInBillingRetryPeriod: row[S.isInBillingRetryPeriod] as boolean | null,
    gracePeriodExpiresDate: row[S.gracePeriodExpiresDate] as Date | null,
    signedDate: row[S.renewalSignedDate] as Date,
  };
}

function renewalTermsAt(row: unknown[]): RenewalTerms | undefined {
  if (!hasRenewal(row)) return undefined;
  return {
    renewalPrice: row[S.renewalPrice] as number | null,
    renewalCurrency: row[S.renewalCurrency] as string | null,
    renewalDate: row[S.renewalDate] as Date | null,
    expirationIntent: row[S.expirationIntent] as number | null,
    priceIncreaseStatus: row[S.priceIncreaseStatus] as number | null,
  };
}

function statusAt(row: unknown[]): StoredStatus | undefined {
  if (row[S.statusSignedDate] === null) return undefined;
  return {
    originalTransactionId: row[PURCHASE] as string,
    appleStatus: row[S.appleStatus] as number | null,
    statusSignedDate: row[S.statusSignedDate] as Date,
  };
}

/**
 * Rows of one read, grouped by user and then by purchase. A purchase exists once one of
 * its (non-consumable) transactions is there; subscription rows only add to it.
 */
function purchasesByUser(rows: readonly unknown[][]): Map<string, PurchaseRecords[]> {
  const byUser = new Map<string, Map<string, PurchaseRecords>>();
  const subscriptionRows: unknown[][] = [];
  for (const row of rows) {
    if (!isTransactionRow(row)) {
      subscriptionRows.push(row);
      continue;
    }
    const userId = row[USER] as string;
    let purchases = byUser.get(userId);
    if (purchases === undefined) {
      purchases = new Map();
      byUser.set(userId, purchases);
    }
    const transaction = periodAt(row);
    const updatedAt = row[UPDATED_AT] as Date;
    const purchase = purchases.get(transaction.originalTransactionId);
    if (purchase === undefined) {
      purchases.set(transaction.originalTransactionId, {
        originalTransactionId: transaction.originalTransactionId,
        transactions: [transaction],
        renewal: undefined,
        renewalTerms: undefined,
        status: undefined,
        updatedAt,
      });
    } else {
      purchase.transactions.push(transaction);
      if (updatedAt > purchase.updatedAt) purchase.updatedAt = updatedAt;
    }
  }
  for (const row of subscriptionRows) {
    const purchase = byUser.get(row[USER] as string)?.get(row[PURCHASE] as string);
    if (purchase === undefined) continue;
    purchase.renewal = renewalAt(row);
    purchase.renewalTerms = renewalTermsAt(row);
    purchase.status = statusAt(row);
    const updatedAt = row[UPDATED_AT] as Date;
    if (updatedAt > purchase.updatedAt) purchase.updatedAt = updatedAt;
  }
  return new Map([...byUser].map(([userId, purchases]) => [userId, [...purchases.values()]]));
}

export function createEntitlementsRepository(options: EntitlementsRepositoryOptions): EntitlementsRepository {
  const { database } = options;
  // A failed read rejects every caller of its group (groupWhileBusy does that).
  const read = async (group: Waiting<string, PurchaseRecords[]>[]) => {
    const userIds = [...new Set(group.map((waiting) => waiting.item))];
    const rows = await database.queryArrays({ name: PURCHASES_OF_USERS_NAME, text: PURCHASES_OF_USERS, values: [userIds] });
    const byUser = purchasesByUser(rows);
    for (const waiting of group) waiting.resolve(byUser.get(waiting.item) ?? []);
  };
  return {
    purchasesOfUser: groupWhileBusy({ run: read, maxGroup: options.maxUsers ?? 64, maxConcurrent: options.maxConcurrent ?? 2 }),
  };
}

/**
 * The same read for many users inside a transaction (the event recorder compares answers
 * before the transaction commits, so it must see the transaction's own writes).
 */
export async function purchasesOfUsersIn(tx: Transaction, userIds: readonly string[]): Promise<Map<string, PurchaseRecords[]>> {
  if (userIds.length === 0) return new Map();
  return purchasesByUser(await tx.driver.queryArrays(PURCHASES_OF_USERS, [[...userIds]], { name: PURCHASES_OF_USERS_NAME }));
}
