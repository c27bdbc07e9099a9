import { badRequest } from '../errors.js';

// Page cursors of the list routes: opaque to clients, the base64url of a small JSON array
// (the last row's sort key), so a key can change shape later. Each route checks the items
// it expects; anything else is 400 INVALID_CURSOR, never a value that reaches a query.

/** A cursor this service hands out is a few dozen characters; anything longer is not one. */
export const MAX_CURSOR_CHARS = 256;

export const invalidCursor = () => badRequest('INVALID_CURSOR', 'The cursor is not one this service handed out');

export function encodePageCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The `length` items a cursor carries, unchecked; INVALID_CURSOR when it is not such an array. */
export function decodePageCursor(text: string, length: number): unknown[] {
  if (text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== length) throw invalidCursor();
  return parsed;
}
