import { InvalidInputError } from '../errors.js';
import type { PurchaseUpdate } from './purchase-update.js';

// SPEC: no record dated more than a minute in the future is accepted from any source.
// A date in the future is a forgery or a broken clock, and a record dated far ahead
// would outrank every real one that comes after it (the merge rules keep the newest).
//
// Dates that say when something happened or was said count: signedDate (of the
// notification, transaction, renewal info; a status's signing time), purchaseDate,
// originalPurchaseDate and revocationDate. Dates that describe the future by nature do
// not: expiresDate, renewalDate, gracePeriodExpiresDate.

/** Clock skew between Apple and us that is not yet "the future". */
export const FUTURE_TOLERANCE_MS = 60_000;

/**
 * Apple charges a renewal up to a day before its period starts, so a fresh DID_RENEW's
 * transaction has a purchaseDate ahead of now. A V1 record's signedDate is derived from
 * its purchase dates (V1 is not signed), so it gets the same lead.
 */
export const PURCHASE_LEAD_MS = 24 * 60 * 60 * 1000;

/** Sending the same data again does not make it less future: not retryable, a refusal of the input. */
export class FutureDatedError extends InvalidInputError {
  constructor(
    readonly field: string,
    readonly date: Date,
  ) {
    super('FUTURE_DATED', `${field} (${date.toISOString()}) is more than a minute in the future`);
  }
}

/** A named date to check; null and undefined are skipped. */
export type DatedField = readonly [field: string, date: Date | number | null | undefined, leadMs?: number];

/** The first field dated past `now` (plus its lead and the tolerance), or null. */
export function futureDatedField(fields: Iterable<DatedField>, now: Date): FutureDatedError | null {
  for (const [field, value, leadMs = 0] of fields) {
    if (value === null || value === undefined) continue;
    const date = value instanceof Date ? value : new Date(value);
    if (date.getTime() > now.getTime() + FUTURE_TOLERANCE_MS + leadMs) return new FutureDatedError(field, date);
  }
  return null;
}

/** The dates of purchase updates that must not be in the future. */
export function* datedFieldsOf(updates: readonly PurchaseUpdate[]): Generator<DatedField> {
  for (const update of updates) {
    for (const { record } of update.transactions) {
      const v1 = record.source === 'v1';
      yield [`transaction ${record.transactionId} signedDate`, record.signedDate, v1 ? PURCHASE_LEAD_MS : 0];
      yield [`transaction ${record.transactionId} purchaseDate`, record.purchaseDate, PURCHASE_LEAD_MS];
      yield [`transaction ${record.transactionId} originalPurchaseDate`, record.originalPurchaseDate];
      yield [`transaction ${record.transactionId} revocationDate`, record.revocationDate];
    }
    if (update.renewal) {
      const { record } = update.renewal;
      yield [`renewal info ${record.originalTransactionId} signedDate`, record.signedDate, record.source === 'v1' ? PURCHASE_LEAD_MS : 0];
    }
    if (update.status) yield [`status ${update.status.originalTransactionId} signedDate`, update.status.statusSignedDate];
  }
}

/** Throws FUTURE_DATED for the first date of `updates` (or `extra`) past now. */
export function assertNotFutureDated(updates: readonly PurchaseUpdate[], now: Date, extra: readonly DatedField[] = []): void {
  const error = futureDatedField([...extra, ...datedFieldsOf(updates)], now);
  if (error !== null) throw error;
}
