import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '../apple/types.js';
import { CodedError } from '../errors.js';
import { appAccountTokenOf } from '../users/app-account-token.model.js';
import type { RecordSource, StoredRenewal, StoredStatus, StoredTransaction } from './purchase-update.js';

// Pure merge rules the ingest applies inside one database transaction. Apple delivers
// late, out of order and repeatedly, so every merge is the maximum of a total order on
// records: the fold over any permutation of the same updates, with any duplicates,
// gives the same record (commutative, associative, idempotent).

/** Data that does not fit is not fixed by trying again: not retryable, a refusal of the input. */
export class InvalidRecordError extends CodedError {
  constructor(message: string) {
    super('INVALID_SIGNED_DATA', message);
  }
}

// The latest instant JavaScript and PostgreSQL both hold exactly (9999-12-31).
const MAX_TIMESTAMP_MS = 253_402_300_799_999;

function requiredDate(ms: number, field: string): Date {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIMESTAMP_MS) throw new InvalidRecordError(`${field} is not a timestamp`);
  return new Date(ms);
}

function optionalDate(ms: number | undefined, field: string): Date | null {
  return ms === undefined || ms === null ? null : requiredDate(ms, field);
}

// The database keeps appAccountToken as a uuid and hands it back lower-case; normalising
// here keeps a record equal to itself after a round trip. StoreKit only ever sends
// UUIDs, so anything else is dropped rather than failing the whole notification, and so
// is the all-zero UUID some clients send for "none" (appAccountTokenOf).
function normaliseToken(token: string | undefined): string | null {
  return appAccountTokenOf(token);
}

export function transactionFromPayload(p: JWSTransactionDecodedPayload, source?: RecordSource): StoredTransaction {
  const record: StoredTransaction = {
    transactionId: p.transactionId,
    originalTransactionId: p.originalTransactionId,
    webOrderLineItemId: p.webOrderLineItemId ?? null,
    bundleId: p.bundleId,
    productId: p.productId,
    subscriptionGroupIdentifier: p.subscriptionGroupIdentifier ?? null,
    productType: p.type,
    environment: p.environment,
    purchaseDate: requiredDate(p.purchaseDate, 'purchaseDate'),
    originalPurchaseDate: optionalDate(p.originalPurchaseDate, 'originalPurchaseDate'),
    expiresDate: optionalDate(p.expiresDate, 'expiresDate'),
    quantity: p.quantity ?? null,
    ownershipType: p.inAppOwnershipType ?? null,
    revocationDate: optionalDate(p.revocationDate, 'revocationDate'),
    revocationReason: p.revocationReason ?? null,
    isUpgraded: p.isUpgraded === true,
    offerType: p.offerType ?? null,
    offerIdentifier: p.offerIdentifier ?? null,
    appAccountToken: normaliseToken(p.appAccountToken),
    storefront: p.storefront ?? null,
    transactionReason: p.transactionReason ?? null,
    price: p.price ?? null,
    currency: p.currency ?? null,
    offerDiscountType: p.offerDiscountType ?? null,
    offerPeriod: p.offerPeriod ?? null,
    revocationType: p.revocationType ?? null,
    revocationPercentage: p.revocationPercentage ?? null,
    appTransactionId: p.appTransactionId ?? null,
    signedDate: requiredDate(p.signedDate, 'signedDate'),
  };
  if (source !== undefined) record.source = source;
  return record;
}

export function renewalFromPayload(p: JWSRenewalInfoDecodedPayload, source?: RecordSource): StoredRenewal {
  const record: StoredRenewal = {
    originalTransactionId: p.originalTransactionId,
    productId: p.productId,
    autoRenewProductId: p.autoRenewProductId ?? null,
    autoRenewStatus: p.autoRenewStatus ?? null,
    expirationIntent: p.expirationIntent ?? null,
    isInBillingRetryPeriod: p.isInBillingRetryPeriod ?? null,
    gracePeriodExpiresDate: optionalDate(p.gracePeriodExpiresDate, 'gracePeriodExpiresDate'),
    renewalDate: optionalDate(p.renewalDate, 'renewalDate'),
    priceIncreaseStatus: p.priceIncreaseStatus ?? null,
    renewalPrice: p.renewalPrice ?? null,
    renewalCurrency: p.currency ?? null,
    offerType: p.offerType ?? null,
    offerIdentifier: p.offerIdentifier ?? null,
    offerDiscountType: p.offerDiscountType ?? null,
    offerPeriod: p.offerPeriod ?? null,
    eligibleWinBackOfferIds: p.eligibleWinBackOfferIds ?? null,
    appTransactionId: p.appTransactionId ?? null,
    signedDate: requiredDate(p.signedDate, 'signedDate'),
    environment: p.environment,
  };
  if (source !== undefined) record.source = source;
  return record;
}

type MissingKeys<T, K extends readonly (keyof T)[]> = Exclude<keyof T, K[number]>;
type AllKeys<T, K extends readonly (keyof T)[]> = MissingKeys<T, K> extends never ? K : never;

// The fields that make up a record's content. Listing them (the compiler checks the list
// is complete) keeps columns the database adds, such as updatedAt, out of tie-breaking.
const TRANSACTION_KEYS = [
  'transactionId',
  'originalTransactionId',
  'webOrderLineItemId',
  'bundleId',
  'productId',
  'subscriptionGroupIdentifier',
  'productType',
  'environment',
  'purchaseDate',
  'originalPurchaseDate',
  'expiresDate',
  'quantity',
  'ownershipType',
  'revocationDate',
  'revocationReason',
  'isUpgraded',
  'offerType',
  'offerIdentifier',
  'appAccountToken',
  'storefront',
  'transactionReason',
  'price',
  'currency',
  'signedDate',
  'source',
  'offerDiscountType',
  'offerPeriod',
  'revocationType',
  'revocationPercentage',
  'appTransactionId',
] as const;
const RENEWAL_KEYS = [
  'originalTransactionId',
  'productId',
  'autoRenewProductId',
  'autoRenewStatus',
  'expirationIntent',
  'isInBillingRetryPeriod',
  'gracePeriodExpiresDate',
  'renewalDate',
  'priceIncreaseStatus',
  'signedDate',
  'environment',
  'source',
  'renewalPrice',
  'renewalCurrency',
  'offerType',
  'offerIdentifier',
  'offerDiscountType',
  'offerPeriod',
  'eligibleWinBackOfferIds',
  'appTransactionId',
] as const;
const STATUS_KEYS = ['originalTransactionId', 'appleStatus', 'statusSignedDate'] as const;

const transactionKeys: AllKeys<StoredTransaction, typeof TRANSACTION_KEYS> = TRANSACTION_KEYS;
const renewalKeys: AllKeys<StoredRenewal, typeof RENEWAL_KEYS> = RENEWAL_KEYS;
const statusKeys: AllKeys<StoredStatus, typeof STATUS_KEYS> = STATUS_KEYS;

/**
 * A fixed text form of a record's content: the listed keys in order, dates as ISO
 * strings, absent values as null. Two records with the same content have the same form.
 */
function canonicalForm<T extends object>(record: T, keys: readonly (keyof T)[]): string {
  return JSON.stringify(keys.map((key) => record[key] ?? null));
}

/** 1 for data Apple signed (a V2 notification, the Server API, an app's JWS), 0 for V1 data. */
export function trustOf(record: { source?: RecordSource }): number {
  return record.source === 'v1' ? 0 : 1;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Apple signs at millisecond precision, so two different versions of one record can
// share a signedDate (and the same JWS can arrive by webhook and by API). Keeping "the
// existing one" on a tie would make the result depend on arrival order; comparing the
// full content instead picks the same winner in every order. Identical content keeps
// the existing object, which is what makes a redelivery a no-op.
//
// Signed data ranks above V1 data (unsigned, 'v1') whatever their dates: a V1 record never
// replaces or outranks what Apple signed (SPEC), and signed data always replaces V1 data.
// Trust comes first in the order, so the merge is still a maximum of one total order.
function newerOf<T extends { source?: RecordSource }>(existing: T | undefined, incoming: T, signedAt: (r: T) => Date, keys: readonly (keyof T)[]): T {
  if (existing === undefined) return incoming;
  const byTrust = trustOf(incoming) - trustOf(existing);
  if (byTrust !== 0) return byTrust > 0 ? incoming : existing;
  const byDate = signedAt(incoming).getTime() - signedAt(existing).getTime();
  if (byDate !== 0) return byDate > 0 ? incoming : existing;
  return compareText(canonicalForm(incoming, keys), canonicalForm(existing, keys)) > 0 ? incoming : existing;
}

/** Keyed by transactionId: signed data over V1 data, then a newer signedDate wins. */
export function mergeTransaction(existing: StoredTransaction | undefined, incoming: StoredTransaction): StoredTransaction {
  return newerOf(existing, incoming, (r) => r.signedDate, transactionKeys);
}

/** Keyed by originalTransactionId: signed over V1 data, then replaced only by renewal info signed later. */
export function mergeRenewal(existing: StoredRenewal | undefined, incoming: StoredRenewal): StoredRenewal {
  return newerOf(existing, incoming, (r) => r.signedDate, renewalKeys);
}

/**
 * Keyed by originalTransactionId: replaced only from a newer notification. A status
 * that says nothing (null) never overwrites one that says something, whatever its date,
 * so a stray "no information" cannot erase what Apple told us.
 */
export function mergeStatus(existing: StoredStatus | undefined, incoming: StoredStatus): StoredStatus {
  if (existing === undefined) return incoming;
  if ((existing.appleStatus === null) !== (incoming.appleStatus === null)) {
    return incoming.appleStatus === null ? existing : incoming;
  }
  // Statuses come only from signed data (V1 updates carry none), so all share one trust.
  return newerOf<StoredStatus & { source?: RecordSource }>(existing, incoming, (r) => r.statusSignedDate, statusKeys);
}
