import { badRequest } from '../errors.js';
import { decodePageCursor, encodePageCursor, invalidCursor } from '../http/page-cursor.js';

// The notification log as the operator reads it: each stored notification decoded (the
// signed payload's JSON with its signed transaction and renewal info decoded in place), and
// the opaque cursor of its pages. Pure: no I/O.

export type NotificationLogOutcome = 'applied' | 'recorded';

export interface StoredNotification {
  id: string;
  version: string;
  notificationType: string;
  subtype: string | null;
  environment: string | null;
  originalTransactionId: string | null;
  transactionId: string | null;
  signedDate: Date | null;
  payload: string;
  source: string;
  outcome: string;
  receivedAt: Date;
  /** receivedAt to the microsecond (UTC, ISO 8601): the page key. */
  receivedAtKey: string;
  /** The purchase's current owner; null when unlinked. */
  userId: string | null;
}

export interface NotificationView {
  notificationId: string;
  version: string;
  notificationType: string;
  subtype: string | null;
  environment: string | null;
  originalTransactionId: string | null;
  transactionId: string | null;
  signedDate: string | null;
  receivedAt: string;
  source: string;
  outcome: string;
  userId: string | null;
  /** The payload decoded; null when the stored text does not decode (it was verified when received). */
  payload: Record<string, unknown> | null;
  /** The stored payload as received (V2: the signedPayload JWS; V1: the body without its password), only when asked. */
  raw?: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function jwsPayload(jws: unknown): Record<string, unknown> | null {
  if (typeof jws !== 'string') return null;
  const segment = jws.split('.')[1];
  if (segment === undefined) return null;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return isRecord(decoded) ? decoded : null;
  } catch {
    return null;
  }
}

// Signed fields of a V2 notification's data and summary, and the names their decoded JSON takes.
const SIGNED_FIELDS: readonly [string, string][] = [
  ['signedTransactionInfo', 'transactionInfo'],
  ['signedRenewalInfo', 'renewalInfo'],
  ['signedAppTransactionInfo', 'appTransactionInfo'],
];

// V1 receipts are base64 blobs of up to megabytes: raw data, not what the log shows.
const V1_BLOBS = new Set(['latest_receipt', 'latest_expired_receipt']);

function withoutV1Blobs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutV1Blobs);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !V1_BLOBS.has(key))
      .map(([key, inner]) => [key, withoutV1Blobs(inner)]),
  );
}

/** The stored payload decoded: V2's JWS payload with its signed parts decoded, V1's JSON without receipt blobs. */
export function decodeStoredPayload(version: string, payload: string): Record<string, unknown> | null {
  if (version !== 'v2') {
    try {
      const parsed: unknown = JSON.parse(payload);
      return isRecord(parsed) ? (withoutV1Blobs(parsed) as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
  const decoded = jwsPayload(payload);
  if (decoded === null) return null;
  for (const part of ['data', 'summary'] as const) {
    const section = decoded[part];
    if (!isRecord(section)) continue;
    const replaced: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(section)) {
      const signed = SIGNED_FIELDS.find(([name]) => name === key);
      if (signed) replaced[signed[1]] = jwsPayload(value);
      else replaced[key] = value;
    }
    decoded[part] = replaced;
  }
  return decoded;
}

export function notificationView(row: StoredNotification, options: { raw: boolean }): NotificationView {
  const view: NotificationView = {
    notificationId: row.id,
    version: row.version,
    notificationType: row.notificationType,
    subtype: row.subtype,
    environment: row.environment,
    originalTransactionId: row.originalTransactionId,
    transactionId: row.transactionId,
    signedDate: row.signedDate === null ? null : row.signedDate.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    source: row.source,
    outcome: row.outcome,
    userId: row.userId,
    payload: decodeStoredPayload(row.version, row.payload),
  };
  if (options.raw) view.raw = row.payload;
  return view;
}

/** Where a page of the log ended: the last (receivedAt, id) shown, receivedAt to the microsecond. */
export interface NotificationLogCursor {
  receivedAt: string;
  id: string;
}

export function encodeNotificationCursor(cursor: NotificationLogCursor): string {
  return encodePageCursor([cursor.receivedAt, cursor.id]);
}

// Year 0 parses in JavaScript but not in PostgreSQL: it would be a 500, not a 400.
const inRange = (raw: string) => {
  const time = Date.parse(raw);
  return !Number.isNaN(time) && new Date(time).getUTCFullYear() >= 1;
};

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_ID = /^[\x21-\x7e]{1,128}$/;

/** Checks everything before the cursor reaches a query (a value PostgreSQL refuses would be a 500). */
export function decodeNotificationCursor(text: string): NotificationLogCursor {
  const invalid = invalidCursor;
  const [receivedAt, id] = decodePageCursor(text, 2);
  if (typeof receivedAt !== 'string' || typeof id !== 'string' || !CURSOR_TIME.test(receivedAt) || !CURSOR_ID.test(id)) throw invalid();
  // JavaScript rolls 2026-02-30 over to March where PostgreSQL refuses it: only a date that
  // reads back the same is one this service wrote.
  if (!inRange(receivedAt) || new Date(Date.parse(receivedAt)).toISOString().slice(0, 23) !== receivedAt.slice(0, 23)) throw invalid();
  return { receivedAt, id };
}

/** `from` / `to` of the log's query: ISO 8601 date-times; 400 INVALID_DATE naming the field. */
export function parseLogDate(field: string, raw: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(raw) || !inRange(raw)) {
    throw badRequest('INVALID_DATE', `${field} must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z, got "${raw}"`);
  }
  return new Date(raw);
}
