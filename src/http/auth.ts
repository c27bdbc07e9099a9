import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** A short, non-secret id of the API key that authenticated the request (for rate limits and logs). */
    apiKeyId?: string;
  }
}

// One-shot hashing: no Hash object per request (this runs on every authenticated request).
const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

/** Holds only digests, so comparisons take the same time whatever the key's length. */
export class KeySet {
  private readonly digests: Buffer[];
  /** Each key's id (the first bytes of its digest, in hex), worked out once. */
  private readonly ids: string[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
    this.ids = this.digests.map((known) => known.subarray(0, 6).toString('hex'));
  }

  get size(): number {
    return this.digests.length;
  }

  /** The matching key's id, or null; every key is compared so timing says nothing. */
  match(candidate: string): string | null {
    const given = digest(candidate);
    let found: string | null = null;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(this.digests[i]!, given)) found = this.ids[i]!;
    }
    return found;
  }
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** onRequest hook for the app-backend routes. */
export function requireApiKey(keys: KeySet) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(request);
    const id = token === null ? null : keys.match(token);
    if (id === null) throw unauthorized();
    request.apiKeyId = id;
  };
}

/** onRequest hook for /admin/*: 401 without a valid key, 403 with an app key. */
export function requireAdminKey(adminKeys: KeySet, appKeys: KeySet) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(request);
    if (token === null) throw unauthorized('An admin bearer token is required');
    const id = adminKeys.size > 0 ? adminKeys.match(token) : null;
    if (id !== null) {
      request.apiKeyId = id;
      return;
    }
    if (appKeys.match(token) !== null) {
      throw adminKeys.size === 0
        ? forbidden('ADMIN_DISABLED', 'The admin API is disabled: set ADMIN_API_KEYS to enable it')
        : forbidden('FORBIDDEN', 'This key may not use the admin API');
    }
    throw unauthorized('An admin bearer token is required');
  };
}
