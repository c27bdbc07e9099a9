import { badRequest } from '../errors.js';

/** Where a page of a user's transactions ended: the last (purchaseDate, transactionId) shown. */
export interface TransactionsCursor {
  purchaseDate: Date;
  transactionId: string;
}

// Opaque to clients: base64url of a small JSON array, so the key can change shape later.
export function encodeCursor(cursor: TransactionsCursor): string {
  return Buffer.from(JSON.stringify([cursor.purchaseDate.toISOString(), cursor.transactionId])).toString('base64url');
}

// What encodeCursor can produce: a four-digit year (PostgreSQL holds more, JavaScript's
// Date less, and neither bound is a purchase date), an id of visible ASCII (Apple's are
// digits), and so a cursor of at most a few hundred characters.
const CURSOR_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CURSOR_ID = /^[\x21-\x7e]{1,128}$/;
export const MAX_CURSOR_CHARS = 256;

/** Checks everything before the cursor reaches a query: a value PostgreSQL refuses is a 500, not a 400. */
export function decodeCursor(text: string): TransactionsCursor {
  const invalid = () => badRequest('INVALID_CURSOR', 'The cursor is not one this service handed out');
  if (text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid();
  const [date, transactionId] = parsed as unknown[];
  if (typeof date !== 'string' || typeof transactionId !== 'string') throw invalid();
  if (!CURSOR_DATE.test(date) || !CURSOR_ID.test(transactionId)) throw invalid();
  const purchaseDate = new Date(date);
  if (Number.isNaN(purchaseDate.getTime()) || purchaseDate.toISOString() !== date) throw invalid();
  return { purchaseDate, transactionId };
}
