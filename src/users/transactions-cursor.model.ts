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

export function decodeCursor(text: string): TransactionsCursor {
  const invalid = () => badRequest('INVALID_CURSOR', 'The cursor is not one this service handed out');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid();
  const [date, transactionId] = parsed as unknown[];
  if (typeof date !== 'string' || typeof transactionId !== 'string' || transactionId === '') throw invalid();
  const purchaseDate = new Date(date);
  if (Number.isNaN(purchaseDate.getTime()) || purchaseDate.toISOString() !== date) throw invalid();
  return { purchaseDate, transactionId };
}
