// Validators for the receipt records shared by V1 notifications and verifyReceipt responses.
import { V1FormatError } from './errors.js';
import type { V1LatestReceiptInfo, V1PendingRenewalInfo } from './types.js';

export type Record_ = Record<string, unknown>;

const MS = /^\d{1,15}$/;
const INTEGER = /^-?\d{1,19}$/;
const FLAGS = new Set(['true', 'false', '1', '0']);

export function isObject(value: unknown): value is Record_ {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function malformed(field: string, message: string): V1FormatError {
  return new V1FormatError('MALFORMED_V1_BODY', field, message);
}

export function requireObject(value: unknown, field: string): Record_ {
  if (!isObject(value)) throw malformed(field, 'must be an object');
  return value;
}

export function requireString(obj: Record_, key: string, field: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value === '') throw malformed(`${field}.${key}`, 'must be a non-empty string');
  return value;
}

export function optionalString(obj: Record_, key: string, field: string): void {
  const value = obj[key];
  if (value !== undefined && value !== null && typeof value !== 'string') throw malformed(`${field}.${key}`, 'must be a string');
}

function checkPattern(obj: Record_, key: string, field: string, pattern: RegExp, what: string, required: boolean): void {
  const value = obj[key];
  if (value === undefined || value === null || value === '') {
    if (required) throw malformed(`${field}.${key}`, `is required (${what})`);
    return;
  }
  if (typeof value !== 'string' || !pattern.test(value)) throw malformed(`${field}.${key}`, `must be ${what}`);
}

export const checkMs = (obj: Record_, key: string, field: string, required = false) =>
  checkPattern(obj, key, field, MS, 'a millisecond timestamp string', required);
export const checkInteger = (obj: Record_, key: string, field: string) => checkPattern(obj, key, field, INTEGER, 'an integer string', false);

export function checkFlag(obj: Record_, key: string, field: string): void {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return;
  if (typeof value !== 'string' || !FLAGS.has(value)) throw malformed(`${field}.${key}`, 'must be "true", "false", "1" or "0"');
}

/** Copies an object without `null` values, which Apple's JSON sometimes carries for absent fields. */
function withoutNulls(obj: Record_): Record_ {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== null));
}

export function parseLatestReceiptInfo(value: unknown, field: string): V1LatestReceiptInfo {
  const obj = withoutNulls(requireObject(value, field));
  for (const key of ['transaction_id', 'original_transaction_id', 'product_id']) requireString(obj, key, field);
  checkMs(obj, 'purchase_date_ms', field, true);
  for (const key of ['original_purchase_date_ms', 'expires_date_ms', 'cancellation_date_ms']) checkMs(obj, key, field);
  for (const key of ['quantity', 'web_order_line_item_id', 'cancellation_reason']) checkInteger(obj, key, field);
  for (const key of ['is_trial_period', 'is_in_intro_offer_period', 'is_upgraded']) checkFlag(obj, key, field);
  for (const key of ['subscription_group_identifier', 'in_app_ownership_type', 'promotional_offer_id', 'offer_code_ref_name', 'app_account_token']) {
    optionalString(obj, key, field);
  }
  return obj as V1LatestReceiptInfo;
}

export function parsePendingRenewalInfo(value: unknown, field: string): V1PendingRenewalInfo {
  const obj = withoutNulls(requireObject(value, field));
  requireString(obj, 'original_transaction_id', field);
  requireString(obj, 'product_id', field);
  optionalString(obj, 'auto_renew_product_id', field);
  for (const key of ['auto_renew_status', 'is_in_billing_retry_period']) checkFlag(obj, key, field);
  for (const key of ['expiration_intent', 'price_consent_status', 'price_increase_status']) checkInteger(obj, key, field);
  checkMs(obj, 'grace_period_expires_date_ms', field);
  for (const key of ['promotional_offer_id', 'offer_code_ref_name']) optionalString(obj, key, field);
  return obj as V1PendingRenewalInfo;
}

export function parseArray<T>(value: unknown, field: string, item: (v: unknown, f: string) => T): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw malformed(field, 'must be an array');
  return value.map((v, i) => item(v, `${field}[${i}]`));
}
