import type { DatabaseHandle, Executor } from '../db/client.js';
import { rawQueryArrays } from '../db/raw.js';
import { groupWhileBusy, type Waiting } from '../db/group-while-busy.js';
import type { Environment, OwnershipType, ProductType } from '../apple/types.js';
import type { StoredStatus } from '../purchases/merge.model.js';
import type { PeriodRecord, RenewalSignals } from './state.model.js';

/** A period with what the answer shows of it beyond what the state model reads. */
export interface EntitlementPeriod extends PeriodRecord {
  offerType: number | null;
  offerDiscountType: string | null;
  offerIdentifier: string | null;
  price: number | null;
  currency: string | null;
  revocationReason: number | null;
  revocationType: string | null;
  revocationPercentage: number | null;
}

/** The renewal info's terms of the next renewal, as the answer shows them. */
export interface RenewalTerms {
  renewalPrice: number | null;
  renewalCurrency: string | null;
  renewalDate: Date | null;
  expirationIntent: number | null;
  priceIncreaseStatus: number | null;
}

/** What the entitlement answer needs of one purchase (one originalTransactionId) of a user. */
export interface PurchaseRecords {
  originalTransactionId: string;
  transactions: EntitlementPeriod[];
  renewal: RenewalSignals | undefined;
  /** Present exactly when `renewal` is. */
  renewalTerms: RenewalTerms | undefined;
  status: StoredStatus | undefined;
  /** Latest updated_at of the rows above. */
  updatedAt: Date;
}

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

// This is the service's hottest path, so it skips the ORM: one statement for every user
// asked for while the previous reads were in flight (`user_id = any($1)`), index scans
// only, the columns the state model reads (PeriodRecord, RenewalSignals, StoredStatus),
// rows as arrays decoded by position (int8 prices as float8: node-postgres hands int8 back
// as a string). Each link is looked up once; a purchase's
// subscription row comes once, as a row of its own (transaction columns null), rather
// than repeated beside every transaction; the nulls cost next to nothing to send and parse.
const PURCHASES_OF_USERS = `
select l.user_id, l.original_transaction_id, r.*
from purchase_links l
cross join lateral (
  select t.transaction_id, t.product_id, t.product_type, t.environment, t.purchase_date, t.original_purchase_date,
    t.expires_date, t.ownership_type, t.revocation_date, t.is_upgraded, t.app_account_token, t.signed_date,
    t.offer_type, t.offer_discount_type, t.offer_identifier, t.price::float8, t.currency, t.revocation_reason,
    t.revocation_type, t.revocation_percentage, t.updated_at,
    null::text, null::text, null::int, null::boolean, null::timestamptz, null::timestamptz, null::int, null::timestamptz,
    null::float8, null::text, null::timestamptz, null::int, null::int
  from transactions t
  where t.original_transaction_id = l.original_transaction_id and t.product_type <> 'Consumable'
  union all
  select null, null, null, null, null, null, null, null, null, null, null, null,
    null, null, null, null, null, null, null, null, s.updated_at,
    s.product_id, s.auto_renew_product_id, s.auto_renew_status, s.is_in_billing_retry_period,
    s.grace_period_expires_date, s.renewal_signed_date, s.apple_status, s.status_signed_date,
    s.renewal_price::float8, s.renewal_currency, s.renewal_date, s.expiration_intent, s.price_increase_status
  from subscriptions s
  where s.original_transaction_id = l.original_transaction_id
) r
where l.user_id = any($1::text[])`;

// Positions in the select list above.
const USER = 0;
const PURCHASE = 1;
const T = 2; // transaction columns, null on subscription rows
const UPDATED_AT = 22;
const S = 23; // subscription columns, null on transaction rows

const isTransactionRow = (row: unknown[]) => row[T] !== null;

function periodAt(row: unknown[]): EntitlementPeriod {
  return {
    originalTransactionId: row[PURCHASE] as string,
    transactionId: row[T] as string,
    productId: row[T + 1] as string,
    productType: row[T + 2] as ProductType,
    environment: row[T + 3] as Environment,
    purchaseDate: row[T + 4] as Date,
    originalPurchaseDate: row[T + 5] as Date | null,
    expiresDate: row[T + 6] as Date | null,
    ownershipType: row[T + 7] as OwnershipType | null,
    revocationDate: row[T + 8] as Date | null,
    isUpgraded: row[T + 9] as boolean,
    appAccountToken: row[T + 10] as string | null,
    signedDate: row[T + 11] as Date,
    offerType: row[T + 12] as number | null,
    offerDiscountType: row[T + 13] as string | null,
    offerIdentifier: row[T + 14] as string | null,
    price: row[T + 15] as number | null,
    currency: row[T + 16] as string | null,
    revocationReason: row[T + 17] as number | null,
    revocationType: row[T + 18] as string | null,
    revocationPercentage: row[T + 19] as number | null,
  };
}

/** Renewal info is stored once a signed renewal info arrived (with its product id). */
function renewalAt(row: unknown[]): RenewalSignals | undefined {
  if (row[S] === null || row[S + 5] === null) return undefined;
  return {
    autoRenewProductId: row[S + 1] as string | null,
    autoRenewStatus: row[S + 2] as number | null,
    isInBillingRetryPeriod: row[S + 3] as boolean | null,
    gracePeriodExpiresDate: row[S + 4] as Date | null,
    signedDate: row[S + 5] as Date,
  };
}

function renewalTermsAt(row: unknown[]): RenewalTerms | undefined {
  if (row[S] === null || row[S + 5] === null) return undefined;
  return {
    renewalPrice: row[S + 8] as number | null,
    renewalCurrency: row[S + 9] as string | null,
    renewalDate: row[S + 10] as Date | null,
    expirationIntent: row[S + 11] as number | null,
    priceIncreaseStatus: row[S + 12] as number | null,
  };
}

function statusAt(row: unknown[]): StoredStatus | undefined {
  if (row[S + 7] === null) return undefined;
  return { originalTransactionId: row[PURCHASE] as string, appleStatus: row[S + 6] as number | null, statusSignedDate: row[S + 7] as Date };
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
    if (purchases === undefined) byUser.set(userId, (purchases = new Map()));
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
    const rows = await database.queryArrays({ name: 'entitlements_purchases_of_users', text: PURCHASES_OF_USERS, values: [userIds] });
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
export async function purchasesOfUsersIn(executor: Executor, userIds: readonly string[]): Promise<Map<string, PurchaseRecords[]>> {
  if (userIds.length === 0) return new Map();
  return purchasesByUser(await rawQueryArrays(executor, PURCHASES_OF_USERS, [[...userIds]]));
}
