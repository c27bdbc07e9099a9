import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Constant-time comparison of a V1 body's `password` with the app's shared secret.
 * Comparing digests keeps equal lengths, so neither content nor length leaks through timing.
 * An empty secret matches nothing: an unset secret must never authenticate a body.
 */
export function sharedSecretMatches(given: unknown, secret: string): boolean {
  if (typeof given !== 'string' || secret === '') return false;
  return timingSafeEqual(digest(given), digest(secret));
}
