import { decodePageCursor, encodePageCursor, invalidCursor } from '../http/page-cursor.js';

/** Where a page of a user's transactions ended: the last (purchaseDate, transactionId) shown. */
export interface TransactionsCursor {
  purchaseDate: Date;
  transactionId: string;
}

export function encodeCursor(cursor: TransactionsCursor): string {
  return encodePageCursor([cursor.purchaseDate.toISOString(), cursor.transactionId]);
}

// What encodeCursor can produce: a four-digit year (PostgreSQL holds more, JavaScript's
// Date less, and neither bound is a purchase date) and an id of visible ASCII (Apple's are
// digits).
const CURSOR_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CURSOR_ID = /^[\x21-\x7e]{1,128}$/;

/** Checks everything before the cursor reaches a query: a value PostgreSQL refuses is a 500, not a 400. */
export function decodeCursor(text: string): TransactionsCursor {
  const invalid = invalidCursor;
  const [date, transactionId] = decodePageCursor(text, 2);
  if (typeof date !== 'string' || typeof transactionId !== 'string') throw invalid();
  if (!CURSOR_DATE.test(date) || !CURSOR_ID.test(transactionId)) throw invalid();
  const purchaseDate = new Date(date);
  if (Number.isNaN(purchaseDate.getTime()) || purchaseDate.toISOString() !== date) throw invalid();
  return { purchaseDate, transactionId };
}
