import type { PgTable } from 'drizzle-orm/pg-core';
import { type Environment, type OwnershipType, PRODUCT_TYPE, type ProductType } from '../apple/types.js';
import type { DatabaseHandle, Transaction } from '../db/client.js';
import { groupWhileBusy, type Slots, type Waiting } from '../db/group-while-busy.js';
import { type ColumnOf, columnName, readColumn, readType, tableName } from '../db/raw.js';
import { appTransactions, grants, purchaseLinks, subscriptions, transactions } from '../db/schema.js';
import type { StoredStatus } from '../purchases/purchase-update.js';
import type { EntitlementPeriod, PurchaseRecords, RenewalTerms } from './entitlements.model.js';
import type { AppTransactionRecord, GrantRecord } from './sources.model.js';
import type { RenewalSignals } from './state.model.js';

/** Everything a user's answer rests on. */
export interface UserRecords {
  /** The user's linked purchases that can grant something (consumables left out). */
  purchases: PurchaseRecords[];
  /** Every grant the user was ever given (ended ones too). */
  grants: GrantRecord[];
  /** The user's verified AppTransaction, or null. */
  appTransaction: AppTransactionRecord | null;
}

export interface EntitlementsRepository {
  recordsOfUser(userId: string): Promise<UserRecords>;
}

export interface EntitlementsRepositoryOptions {
  database: DatabaseHandle;
  /** Reads in flight at once; users asked for meanwhile share the next read. Default 2. */
  maxConcurrent?: number;
  /** Read slots shared with the other apps' repositories, instead of maxConcurrent of its own. */
  slots?: Slots;
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
// The user's grants and AppTransaction come in the same statement (`union all`), as rows
// of the same shape: their fields ride in transaction columns of the same type, and the
// product type column, never one of these markers for a purchase, says which kind a row is.

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

type PeriodColumn = (typeof PERIOD_COLUMNS)[number];

/** The period select list with `given` columns from another table and null (of the column's type) elsewhere. */
function periodListOf(given: Partial<Record<PeriodColumn, string>>): string {
  return PERIOD_COLUMNS.map((column) => given[column] ?? `null::${readType(transactions, column)}`).join(', ');
}

// Markers in the productType position (see above) and where each kind's fields ride.
const GRANT_ROW = 'grant';
const APP_TRANSACTION_ROW = 'app_transaction';
const G = { grantId: T.transactionId, entitlement: T.productId, startsAt: T.purchaseDate, expiresDate: T.expiresDate, endedAt: T.revocationDate } as const;
const A = { environment: T.environment, originalApplicationVersion: T.productId, originalPurchaseDate: T.originalPurchaseDate } as const;

const grant = (column: ColumnOf<typeof grants>) => columnName(grants, column, 'g');
const app = (column: ColumnOf<typeof appTransactions>) => columnName(appTransactions, column, 'a');
const GRANT_ROWS = `
select ${grant('userId')}, null::text, ${periodListOf({
  transactionId: grant('id'),
  productId: grant('entitlement'),
  productType: `'${GRANT_ROW}'::text`,
  purchaseDate: grant('startsAt'),
  expiresDate: grant('expiresDate'),
  revocationDate: grant('endedAt'),
})}, ${grant('updatedAt')}, ${nulls(subscriptions, SUBSCRIPTION_COLUMNS)}
from ${tableName(grants)} g
where ${grant('userId')} = any($1::text[])`;
const APP_TRANSACTION_ROWS = `
select ${app('userId')}, null::text, ${periodListOf({
  productId: app('originalApplicationVersion'),
  productType: `'${APP_TRANSACTION_ROW}'::text`,
  environment: app('environment'),
  originalPurchaseDate: app('originalPurchaseDate'),
})}, ${app('updatedAt')}, ${nulls(subscriptions, SUBSCRIPTION_COLUMNS)}
from ${tableName(appTransactions)} a
where ${app('userId')} = any($1::text[])`;

const CONSUMABLE = PRODUCT_TYPE.consumable;
const link = (column: ColumnOf<typeof purchaseLinks>) => columnName(purchaseLinks, column, 'l');
const PURCHASE_ROWS = `
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

/** The read: purchases, grants and AppTransactions of the users in $1 (exported for bench/entitlements/statement-ab.ts). */
export const RECORDS_OF_USERS = `${PURCHASE_ROWS}
union all${GRANT_ROWS}
union all${APP_TRANSACTION_ROWS}`;
/** The read as it was before grants and AppTransactions (the bench's baseline). */
export const PURCHASES_ONLY = PURCHASE_ROWS;
const isTransactionRow = (row: unknown[]) => row[T.transactionId] !== null;

/**
 * What the records of one read share instead of each holding a copy (the cache keeps them,
 * and V8's young-generation collections copy everything kept): one string per value of
 * the columns that repeat from user to user (product ids and types, environments,
 * ownership, currencies), and one Date per instant within the read (a renewal starts where
 * the previous period ended; every transaction of a purchase carries its original purchase
 * date). Records are never changed in place, so nobody can tell.
 */
interface Sharing {
  text(value: unknown): string | null;
  date(value: unknown): Date | null;
}

/** Distinct values shared from read to read, at most (past that, a value is kept as read). */
const MAX_SHARED_TEXTS = 1_000;

/** The shared strings of one repository; each read adds its own Dates (`sharing`). */
function sharedTexts(): (value: unknown) => string | null {
  const texts = new Map<string, string>();
  return (value) => {
    if (typeof value !== 'string') return value as null;
    const known = texts.get(value);
    if (known !== undefined) return known;
    if (texts.size < MAX_SHARED_TEXTS) texts.set(value, value);
    return value;
  };
}

function sharing(text: (value: unknown) => string | null): Sharing {
  const dates = new Map<number, Date>();
  return {
    text,
    date(value) {
      if (!(value instanceof Date)) return value as null;
      const time = value.getTime();
      const known = dates.get(time);
      if (known !== undefined) return known;
      dates.set(time, value);
      return value;
    },
  };
}

function periodAt(row: unknown[], share: Sharing): EntitlementPeriod {
  return {
    originalTransactionId: row[PURCHASE] as string,
    transactionId: row[T.transactionId] as string,
    productId: share.text(row[T.productId]) as string,
    productType: share.text(row[T.productType]) as ProductType,
    environment: share.text(row[T.environment]) as Environment,
    purchaseDate: share.date(row[T.purchaseDate]) as Date,
    originalPurchaseDate: share.date(row[T.originalPurchaseDate]),
    expiresDate: share.date(row[T.expiresDate]),
    ownershipType: share.text(row[T.ownershipType]) as OwnershipType | null,
    revocationDate: share.date(row[T.revocationDate]),
    isUpgraded: row[T.isUpgraded] as boolean,
    appAccountToken: row[T.appAccountToken] as string | null,
    signedDate: share.date(row[T.signedDate]) as Date,
    offerType: row[T.offerType] as number | null,
    offerDiscountType: share.text(row[T.offerDiscountType]),
    offerIdentifier: share.text(row[T.offerIdentifier]),
    price: row[T.price] as number | null,
    currency: share.text(row[T.currency]),
    revocationReason: row[T.revocationReason] as number | null,
    revocationType: share.text(row[T.revocationType]),
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

function grantAt(row: unknown[]): GrantRecord {
  return {
    grantId: row[G.grantId] as string,
    entitlement: row[G.entitlement] as string,
    startsAt: row[G.startsAt] as Date,
    expiresDate: row[G.expiresDate] as Date,
    endedAt: row[G.endedAt] as Date | null,
    updatedAt: row[UPDATED_AT] as Date,
  };
}

function appTransactionAt(row: unknown[]): AppTransactionRecord {
  return {
    environment: row[A.environment] as Environment,
    originalApplicationVersion: row[A.originalApplicationVersion] as string | null,
    originalPurchaseDate: row[A.originalPurchaseDate] as Date | null,
    updatedAt: row[UPDATED_AT] as Date,
  };
}

/**
 * Rows of one read, grouped by user and then by purchase. A purchase exists once one of
 * its (non-consumable) transactions is there; subscription rows only add to it.
 */
function recordsByUser(rows: readonly unknown[][], texts: (value: unknown) => string | null): Map<string, UserRecords> {
  const share = sharing(texts);
  const byUser = new Map<string, Map<string, PurchaseRecords>>();
  const others = new Map<string, Omit<UserRecords, 'purchases'>>();
  const otherOf = (userId: string) => {
    let entry = others.get(userId);
    if (entry === undefined) {
      entry = { grants: [], appTransaction: null };
      others.set(userId, entry);
    }
    return entry;
  };
  const subscriptionRows: unknown[][] = [];
  for (const row of rows) {
    const kind = row[T.productType];
    if (kind === GRANT_ROW && row[PURCHASE] === null) {
      otherOf(row[USER] as string).grants.push(grantAt(row));
      continue;
    }
    if (kind === APP_TRANSACTION_ROW && row[PURCHASE] === null) {
      otherOf(row[USER] as string).appTransaction = appTransactionAt(row);
      continue;
    }
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
    const transaction = periodAt(row, share);
    const updatedAt = row[UPDATED_AT] as Date;
    const purchase = purchases.get(transaction.originalTransactionId);
    // Its transactions share the purchase's id.
    if (purchase !== undefined) transaction.originalTransactionId = purchase.originalTransactionId;
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
  const result = new Map<string, UserRecords>();
  for (const [userId, purchases] of byUser) result.set(userId, { purchases: [...purchases.values()], grants: [], appTransaction: null });
  for (const [userId, other] of others) {
    const records = result.get(userId);
    if (records === undefined) result.set(userId, { purchases: [], ...other });
    else Object.assign(records, other);
  }
  return result;
}

export function createEntitlementsRepository(options: EntitlementsRepositoryOptions): EntitlementsRepository {
  const { database } = options;
  // A failed read rejects every caller of its group (groupWhileBusy does that).
  const texts = sharedTexts();
  const read = async (group: Waiting<string, UserRecords>[]) => {
    const userIds = [...new Set(group.map((waiting) => waiting.item))];
    const rows = await database.queryArrays({ name: 'entitlements_records_of_users', text: RECORDS_OF_USERS, values: [userIds] });
    const byUser = recordsByUser(rows, texts);
    for (const waiting of group) waiting.resolve(byUser.get(waiting.item) ?? { purchases: [], grants: [], appTransaction: null });
  };
  return {
    recordsOfUser: groupWhileBusy({
      run: read,
      maxGroup: options.maxUsers ?? 64,
      ...(options.slots ? { slots: options.slots } : { maxConcurrent: options.maxConcurrent ?? 2 }),
    }),
  };
}

/**
 * The same read for many users inside a transaction (the event recorder compares answers
 * before the transaction commits, so it must see the transaction's own writes).
 */
export async function recordsOfUsersIn(tx: Transaction, userIds: readonly string[]): Promise<Map<string, UserRecords>> {
  if (userIds.length === 0) return new Map();
  return recordsByUser(await tx.driver.queryArrays(RECORDS_OF_USERS, [[...userIds]]), sharedTexts());
}
