// Shape checks of decoded payloads: only the fields the service relies on are
// required; everything else, unknown enum values included, passes through untouched.
import type { AppTransaction, JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload, ResponseBodyV2DecodedPayload } from '../types.js';
import { VerificationError } from './errors.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(what: string, message: string): VerificationError {
  return new VerificationError('MALFORMED_PAYLOAD', `${what}: ${message}`);
}

/** Latest instant both JavaScript and PostgreSQL represent exactly: 9999-12-31T23:59:59.999Z. */
const MAX_TIMESTAMP_MS = 253_402_300_799_999;
const INT32_MAX = 2_147_483_647;

/** A millisecond timestamp the service can store and print; Apple's are never negative. */
export function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_TIMESTAMP_MS;
}

// What each stored field must be. Values the database would refuse (a list where a
// number belongs, a status of 10^12) are refused here as MALFORMED_PAYLOAD, so signed
// but nonsensical data is a 400, never a failed insert.
type FieldKind = 'string' | 'strings' | 'timestamp' | 'int32' | 'integer' | 'boolean' | 'object';
type FieldSpec = Record<string, FieldKind | `${FieldKind}!`>;

const CHECKS: Record<FieldKind, { test: (value: unknown) => boolean; expected: string }> = {
  string: { test: (v) => typeof v === 'string', expected: 'a string' },
  strings: { test: (v) => Array.isArray(v) && v.every((item) => typeof item === 'string'), expected: 'a list of strings' },
  timestamp: { test: isTimestamp, expected: 'a millisecond timestamp between 1970 and 9999' },
  int32: { test: (v) => Number.isInteger(v) && Math.abs(v as number) <= INT32_MAX, expected: 'a 32-bit integer' },
  integer: { test: (v) => Number.isSafeInteger(v), expected: 'an integer' },
  boolean: { test: (v) => typeof v === 'boolean', expected: 'true or false' },
  object: { test: isObject, expected: 'an object' },
};

function checkFields(payload: JsonObject, spec: FieldSpec, what: string): void {
  for (const [field, rule] of Object.entries(spec)) {
    const required = rule.endsWith('!');
    const kind = (required ? rule.slice(0, -1) : rule) as FieldKind;
    const value = payload[field];
    if (value === undefined || value === null) {
      if (required) throw malformed(what, `${field} is required`);
      continue;
    }
    if (!CHECKS[kind].test(value) || (required && value === '')) {
      throw malformed(what, `${field} must be ${required && kind === 'string' ? 'a non-empty string' : CHECKS[kind].expected}`);
    }
  }
}

const NOTIFICATION = 'notification payload';
const TRANSACTION = 'transaction payload';
const RENEWAL_INFO = 'renewal info payload';
const APP_TRANSACTION = 'app transaction payload';

const NOTIFICATION_FIELDS: FieldSpec = {
  notificationType: 'string!',
  notificationUUID: 'string!',
  signedDate: 'timestamp!',
  subtype: 'string',
  data: 'object',
  summary: 'object',
  externalPurchaseToken: 'object',
  appData: 'object',
};
const NOTIFICATION_DATA_FIELDS: FieldSpec = {
  signedTransactionInfo: 'string',
  signedRenewalInfo: 'string',
  status: 'int32',
  environment: 'string',
  bundleId: 'string',
  appAppleId: 'integer',
};
const TRANSACTION_FIELDS: FieldSpec = {
  transactionId: 'string!',
  originalTransactionId: 'string!',
  productId: 'string!',
  bundleId: 'string!',
  environment: 'string!',
  type: 'string!',
  purchaseDate: 'timestamp!',
  signedDate: 'timestamp!',
  originalPurchaseDate: 'timestamp',
  expiresDate: 'timestamp',
  revocationDate: 'timestamp',
  revocationReason: 'int32',
  quantity: 'int32',
  offerType: 'int32',
  price: 'integer',
  isUpgraded: 'boolean',
  appAccountToken: 'string',
  webOrderLineItemId: 'string',
  subscriptionGroupIdentifier: 'string',
  inAppOwnershipType: 'string',
  offerIdentifier: 'string',
  storefront: 'string',
  transactionReason: 'string',
  currency: 'string',
  offerDiscountType: 'string',
  offerPeriod: 'string',
  revocationType: 'string',
  revocationPercentage: 'int32',
  appTransactionId: 'string',
  storefrontId: 'string',
};
const RENEWAL_INFO_FIELDS: FieldSpec = {
  originalTransactionId: 'string!',
  productId: 'string!',
  environment: 'string!',
  signedDate: 'timestamp!',
  autoRenewProductId: 'string',
  autoRenewStatus: 'int32',
  expirationIntent: 'int32',
  isInBillingRetryPeriod: 'boolean',
  priceIncreaseStatus: 'int32',
  gracePeriodExpiresDate: 'timestamp',
  renewalDate: 'timestamp',
  recentSubscriptionStartDate: 'timestamp',
  offerType: 'int32',
  offerIdentifier: 'string',
  offerDiscountType: 'string',
  offerPeriod: 'string',
  renewalPrice: 'integer',
  currency: 'string',
  eligibleWinBackOfferIds: 'strings',
  appAccountToken: 'string',
  appTransactionId: 'string',
};
const APP_TRANSACTION_FIELDS: FieldSpec = {
  bundleId: 'string!',
  appAppleId: 'integer',
  signedDate: 'timestamp',
};

export function asNotification(payload: JsonObject): ResponseBodyV2DecodedPayload {
  checkFields(payload, NOTIFICATION_FIELDS, NOTIFICATION);
  if (isObject(payload.data)) checkFields(payload.data, NOTIFICATION_DATA_FIELDS, `${NOTIFICATION} data`);
  if (isObject(payload.appData)) checkFields(payload.appData, { signedAppTransactionInfo: 'string' }, `${NOTIFICATION} appData`);
  return payload as unknown as ResponseBodyV2DecodedPayload;
}

export function asTransaction(payload: JsonObject): JWSTransactionDecodedPayload {
  checkFields(payload, TRANSACTION_FIELDS, TRANSACTION);
  return payload as unknown as JWSTransactionDecodedPayload;
}

export function asRenewalInfo(payload: JsonObject): JWSRenewalInfoDecodedPayload {
  checkFields(payload, RENEWAL_INFO_FIELDS, RENEWAL_INFO);
  return payload as unknown as JWSRenewalInfoDecodedPayload;
}

export function asAppTransaction(payload: JsonObject): AppTransaction {
  checkFields(payload, APP_TRANSACTION_FIELDS, APP_TRANSACTION);
  if (typeof (payload.environment ?? payload.receiptType) !== 'string') {
    throw malformed(APP_TRANSACTION, 'environment (or receiptType) must be a string');
  }
  return payload as unknown as AppTransaction;
}
