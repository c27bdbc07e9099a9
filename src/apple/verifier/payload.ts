// Shape checks of decoded payloads: only the fields the service relies on are
// required; everything else, unknown enum values included, passes through untouched.
import type {
  AppTransaction,
  JWSRenewalInfoDecodedPayload,
  JWSTransactionDecodedPayload,
  ResponseBodyV2DecodedPayload,
} from '../types.js';
import { VerificationError } from './errors.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(what: string, message: string): VerificationError {
  return new VerificationError('MALFORMED_PAYLOAD', `${what}: ${message}`);
}

function requireString(payload: JsonObject, field: string, what: string): void {
  if (typeof payload[field] !== 'string' || payload[field] === '') {
    throw malformed(what, `${field} must be a non-empty string`);
  }
}

function requireNumber(payload: JsonObject, field: string, what: string): void {
  if (typeof payload[field] !== 'number' || !Number.isFinite(payload[field])) {
    throw malformed(what, `${field} must be a number`);
  }
}

function optional(payload: JsonObject, field: string, type: 'string' | 'number' | 'object', what: string): void {
  const value = payload[field];
  if (value === undefined || value === null) return;
  const ok = type === 'object' ? isObject(value) : typeof value === type;
  if (!ok) throw malformed(what, `${field} must be ${type === 'object' ? 'an object' : `a ${type}`}`);
}

const NOTIFICATION = 'notification payload';
const TRANSACTION = 'transaction payload';
const RENEWAL_INFO = 'renewal info payload';
const APP_TRANSACTION = 'app transaction payload';

export function asNotification(payload: JsonObject): ResponseBodyV2DecodedPayload {
  requireString(payload, 'notificationType', NOTIFICATION);
  requireString(payload, 'notificationUUID', NOTIFICATION);
  requireNumber(payload, 'signedDate', NOTIFICATION);
  optional(payload, 'subtype', 'string', NOTIFICATION);
  for (const part of ['data', 'summary', 'externalPurchaseToken', 'appData']) {
    optional(payload, part, 'object', NOTIFICATION);
  }
  const data = payload.data;
  if (isObject(data)) {
    optional(data, 'signedTransactionInfo', 'string', `${NOTIFICATION} data`);
    optional(data, 'signedRenewalInfo', 'string', `${NOTIFICATION} data`);
  }
  const appData = payload.appData;
  if (isObject(appData)) optional(appData, 'signedAppTransactionInfo', 'string', `${NOTIFICATION} appData`);
  return payload as unknown as ResponseBodyV2DecodedPayload;
}

export function asTransaction(payload: JsonObject): JWSTransactionDecodedPayload {
  for (const field of ['transactionId', 'originalTransactionId', 'productId', 'bundleId', 'environment']) {
    requireString(payload, field, TRANSACTION);
  }
  requireNumber(payload, 'purchaseDate', TRANSACTION);
  requireNumber(payload, 'signedDate', TRANSACTION);
  optional(payload, 'expiresDate', 'number', TRANSACTION);
  optional(payload, 'revocationDate', 'number', TRANSACTION);
  optional(payload, 'appAccountToken', 'string', TRANSACTION);
  return payload as unknown as JWSTransactionDecodedPayload;
}

export function asRenewalInfo(payload: JsonObject): JWSRenewalInfoDecodedPayload {
  for (const field of ['originalTransactionId', 'productId', 'environment']) {
    requireString(payload, field, RENEWAL_INFO);
  }
  requireNumber(payload, 'signedDate', RENEWAL_INFO);
  optional(payload, 'autoRenewProductId', 'string', RENEWAL_INFO);
  optional(payload, 'gracePeriodExpiresDate', 'number', RENEWAL_INFO);
  return payload as unknown as JWSRenewalInfoDecodedPayload;
}

export function asAppTransaction(payload: JsonObject): AppTransaction {
  requireString(payload, 'bundleId', APP_TRANSACTION);
  optional(payload, 'appAppleId', 'number', APP_TRANSACTION);
  optional(payload, 'signedDate', 'number', APP_TRANSACTION);
  if (typeof (payload.environment ?? payload.receiptType) !== 'string') {
    throw malformed(APP_TRANSACTION, 'environment (or receiptType) must be a string');
  }
  return payload as unknown as AppTransaction;
}
