import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, forbidden, unauthorized } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** A short, non-secret id of the API key that authenticated the request (for rate limits and logs). */
    apiKeyId?: string;
    /**
     * The app (APPS_FILE `id`) the request acts for: an app key's own, or the one `X-App-Id`
     * names. Absent on an admin request that names none while the installation has several.
     */
    appId?: string;
    /**
     * The rate-limit hook's match of the bearer token (http/rate-limit.ts), for the auth hooks
     * to reuse; null until it makes one, absent where no rate limit is installed.
     */
    keyMatch?: KeyMatch | null;
  }
}

/** One match of a request's bearer token against one key set. */
export interface KeyMatch {
  keys: KeySet;
  /** The Authorization header that was matched: a later hook that changed it gets a match of its own. */
  authorization: string;
  /** The matching key's position in `keys`, or -1. */
  index: number;
}

/** The header a key that is not one app's (API_KEYS with APPS_FILE, admin keys) names the app with (SPEC "Several apps"). */
export const APP_ID_HEADER = 'x-app-id';

/** Which app each key acts for, and the installation's app ids. */
export interface KeyOwners {
  /** The app a key acts for; null: a key of no app of its own (it names one with X-App-Id). */
  ownerOf(key: string): string | null;
  /** Every app id of the installation, in the configured order. */
  appIds: readonly string[];
}

const NO_OWNERS: KeyOwners = { ownerOf: () => null, appIds: [] };

// One-shot hashing: no Hash object per request (this runs on every authenticated request).
const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

/** Holds only digests, so comparisons take the same time whatever the key's length. */
export class KeySet {
  private readonly digests: Buffer[];
  private readonly owners: Array<string | null>;
  /** Every app id of the installation (empty for a set that does not say). */
  readonly appIds: readonly string[];
  /** Each key's id (the first bytes of its digest, in hex), worked out once. */
  private readonly ids: string[];

  constructor(keys: readonly string[], owners: KeyOwners = NO_OWNERS) {
    this.digests = keys.map(digest);
    this.owners = keys.map((key) => owners.ownerOf(key));
    this.appIds = owners.appIds;
    this.ids = this.digests.map((known) => known.subarray(0, 6).toString('hex'));
  }

  get size(): number {
    return this.digests.length;
  }

  /** The matching key's id, or null; every key is compared so timing says nothing. */
  match(candidate: string): string | null {
    const found = this.indexOf(candidate);
    return found < 0 ? null : this.ids[found]!;
  }

  /** The matching key's position (0 ≤ i < size), or -1; every key is compared. Allocates nothing but the digest (the hooks' way: bearerKeyIndex). */
  indexOf(candidate: string): number {
    const given = digest(candidate);
    let found = -1;
    for (let i = 0; i < this.digests.length; i += 1) {
      if (timingSafeEqual(this.digests[i]!, given)) found = i;
    }
    return found;
  }

  /** The id of the key at `index` (from indexOf). */
  idAt(index: number): string {
    return this.ids[index]!;
  }

  /** The app the key at `index` acts for; null: none of its own. */
  ownerAt(index: number): string | null {
    return this.owners[index] ?? null;
  }
}

/** The X-App-Id a request names, or null when it names none. */
function namedApp(request: FastifyRequest): string | null {
  const header = request.headers[APP_ID_HEADER];
  if (header === undefined || header === '') return null;
  // Node joins a repeated header with ", ": such a value names no app.
  return Array.isArray(header) ? header.join(', ') : header;
}

function unknownApp(named: string) {
  return badRequest('UNKNOWN_APP', `X-App-Id ${JSON.stringify(named)} names no app of this installation`);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
function bearerToken(header: string): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * The position in `keys` of the request's bearer key, or -1 (no bearer token, or none of
 * `keys`). The match the rate-limit hook recorded is reused only when it was made for this
 * very key set and this very header: each set hashes a request's token at most once, and a
 * match never crosses from one set (app, admin) to another.
 */
export function bearerKeyIndex(request: FastifyRequest, keys: KeySet): number {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return -1;
  const recorded = request.keyMatch;
  if (recorded != null && recorded.keys === keys && recorded.authorization === header) return recorded.index;
  const token = bearerToken(header);
  return token === null ? -1 : keys.indexOf(token);
}

/** bearerKeyIndex, recorded on the request for the auth hook that runs later (the rate-limit hook's way). */
export function recordBearerKeyIndex(request: FastifyRequest, keys: KeySet): number {
  const index = bearerKeyIndex(request, keys);
  const header = request.headers.authorization;
  if (typeof header === 'string') request.keyMatch = { keys, authorization: header, index };
  return index;
}

/**
 * onRequest hook for the app-backend routes: a valid key, and the app it acts for. An app's
 * key acts for its app (X-App-Id may name it, and only it: 403); a key of no app (API_KEYS
 * with APPS_FILE) must name one (400 APP_REQUIRED without).
 */
export function requireApiKey(keys: KeySet) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const index = bearerKeyIndex(request, keys);
    if (index < 0) throw unauthorized();
    request.apiKeyId = keys.idAt(index);
    const named = namedApp(request);
    const own = keys.ownerAt(index);
    if (own !== null) {
      if (named !== null && named !== own) throw forbidden('APP_FORBIDDEN', `This key acts for app ${JSON.stringify(own)} only`);
      request.appId = own;
      return;
    }
    if (named === null) throw badRequest('APP_REQUIRED', 'This key acts for no app of its own: name the app with the X-App-Id header');
    if (!keys.appIds.includes(named)) throw unknownApp(named);
    request.appId = named;
  };
}

/** onRequest hook for /admin/*: 401 without a valid key, 403 with an app key. */
export function requireAdminKey(adminKeys: KeySet, appKeys: KeySet) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const index = adminKeys.size > 0 ? bearerKeyIndex(request, adminKeys) : -1;
    if (index >= 0) {
      request.apiKeyId = adminKeys.idAt(index);
      // Admin keys see every app: X-App-Id names one; without it, the only app when there is one.
      const named = namedApp(request);
      const appIds = appKeys.appIds;
      if (named !== null && !appIds.includes(named)) throw unknownApp(named);
      const appId = named ?? (appIds.length === 1 ? appIds[0] : undefined);
      if (appId !== undefined) request.appId = appId;
      return;
    }
    // Only on a refusal: which one an app key gets.
    if (bearerKeyIndex(request, appKeys) >= 0) {
      throw adminKeys.size === 0
        ? forbidden('ADMIN_DISABLED', 'The admin API is disabled: set ADMIN_API_KEYS to enable it')
        : forbidden('FORBIDDEN', 'This key may not use the admin API');
    }
    throw unauthorized('An admin bearer token is required');
  };
}
