import { importPKCS8, SignJWT } from 'jose';
import type { Clock } from '../../clock.js';

export interface TokenSourceOptions {
  issuerId: string;
  keyId: string;
  /** PEM PKCS#8 (the `.p8` file App Store Connect hands out). */
  privateKey: string;
  bundleId: string;
  clock: Clock;
  /** Token lifetime; Apple rejects anything above one hour. */
  lifetimeSeconds?: number;
  /** A token this close to expiry is replaced, so it cannot expire in flight or in a retry. */
  renewBeforeSeconds?: number;
}

export const TOKEN_AUDIENCE = 'appstoreconnect-v1';
const DEFAULT_LIFETIME_SECONDS = 20 * 60;
const DEFAULT_RENEW_BEFORE_SECONDS = 60;
const MAX_LIFETIME_SECONDS = 60 * 60;

/**
 * Returns a function yielding a bearer token for the App Store Server API. One token is
 * shared by every request until shortly before it expires: signing per request costs CPU
 * and Apple documents reuse.
 */
export function createTokenSource(options: TokenSourceOptions): () => Promise<string> {
  const lifetime = options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  const renewBefore = options.renewBeforeSeconds ?? DEFAULT_RENEW_BEFORE_SECONDS;
  if (lifetime <= renewBefore || lifetime > MAX_LIFETIME_SECONDS) {
    throw new RangeError(`token lifetime must be within (${renewBefore}, ${MAX_LIFETIME_SECONDS}] seconds`);
  }
  // Imported once, lazily, so a malformed key fails the first call rather than startup
  // of a service that may never call Apple.
  let key: ReturnType<typeof importPKCS8> | undefined;
  let current: { token: string; expiresAt: number } | undefined;
  let signing: Promise<string> | undefined;

  async function sign(now: number): Promise<string> {
    key ??= importPKCS8(options.privateKey, 'ES256');
    const expiresAt = now + lifetime;
    const token = await new SignJWT({ bid: options.bundleId })
      .setProtectedHeader({ alg: 'ES256', kid: options.keyId, typ: 'JWT' })
      .setIssuer(options.issuerId)
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .setAudience(TOKEN_AUDIENCE)
      .sign(await key);
    current = { token, expiresAt };
    return token;
  }

  return async () => {
    const now = Math.floor(options.clock().getTime() / 1000);
    if (current && now < current.expiresAt - renewBefore) return current.token;
    // Concurrent callers share one signing instead of each minting a token.
    signing ??= sign(now).finally(() => {
      signing = undefined;
    });
    return signing;
  };
}
