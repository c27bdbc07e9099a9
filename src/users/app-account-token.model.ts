import { createHash, randomUUID } from 'node:crypto';

// App account tokens are UUIDs the app hands to StoreKit; Apple signs them back into
// every transaction of the purchase, which is how a purchase finds its user.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string): boolean => UUID.test(value);

// RFC 9562's Nil and Max UUIDs identify nobody: clients send the all-zero UUID as a
// placeholder, and every purchase carrying one would otherwise go to one pseudo-user.
const NOT_TOKENS = new Set(['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff']);

/**
 * The token a value names, in the lower case Apple and the uuid column hand back, or null
 * when it names none: not a UUID (StoreKit only sends UUIDs; braces and other spellings
 * are no token), or the Nil or Max UUID.
 */
export function appAccountTokenOf(value: string | null | undefined): string | null {
  if (typeof value !== 'string' || !UUID.test(value)) return null;
  const token = value.toLowerCase();
  return NOT_TOKENS.has(token) ? null : token;
}

/**
 * The one spelling of a user id the service stores. A UUID user id is its own token, and
 * tokens come back from Apple (and out of the uuid column) lower-case, so `ABC…` and
 * `abc…` must be the same user: UUID ids are lower-cased, every other id is kept as is.
 */
export function canonicalUserId(userId: string): string {
  return isUuid(userId) ? userId.toLowerCase() : userId;
}

/** A fresh per-installation namespace for `tokenForUser`. */
export const newNamespace = (): string => randomUUID();

// RFC 9562 name-based UUID (version 5, SHA-1), written here rather than pulling a
// dependency in for one hash and two bit fields.
export function uuidV5(name: string, namespace: string): string {
  if (!isUuid(namespace)) throw new RangeError('the namespace must be a UUID');
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A canonical user id's token: itself when it is a UUID that is a token, else stable under
 * the installation's namespace (a version 5 UUID, never the Nil or Max UUID).
 */
export function tokenForUser(canonicalId: string, namespace: string): string {
  return appAccountTokenOf(canonicalId) ?? uuidV5(canonicalId, namespace);
}
