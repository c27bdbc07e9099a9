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
  }
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
    return this.matchKey(candidate)?.id ?? null;
  }

  /** The matching key's id and the app it acts for (null: none of its own), or null; every key is compared. */
  matchKey(candidate: string): { id: string; appId: string | null } | null {
    const found = this.indexOf(candidate);
    return found < 0 ? null : { id: this.ids[found]!, appId: this.owners[found] ?? null };
  }

  /** The matching key's position (0 ≤ i < size), or -1; every key is compared. Allocates nothing but the digest (the rate-limit hook's way). */
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

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * onRequest hook for the app-backend routes: a valid key, and the app it acts for. An app's
 * key acts for its app (X-App-Id may name it, and only it: 403); a key of no app (API_KEYS
 * with APPS_FILE) must name one (400 APP_REQUIRED without).
 */
export function requireApiKey(keys: KeySet) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(request);
    const key = token === null ? null : keys.matchKey(token);
    if (key === null) throw unauthorized();
    request.apiKeyId = key.id;
    const named = namedApp(request);
    if (key.appId !== null) {
      if (named !== null && named !== key.appId) throw forbidden('APP_FORBIDDEN', `This key acts for app ${JSON.stringify(key.appId)} only`);
      request.appId = key.appId;
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
    const token = bearerToken(request);
    if (token === null) throw unauthorized('An admin bearer token is required');
    const id = adminKeys.size > 0 ? adminKeys.match(token) : null;
    if (id !== null) {
      request.apiKeyId = id;
      // Admin keys see every app: X-App-Id names one; without it, the only app when there is one.
      const named = namedApp(request);
      const appIds = appKeys.appIds;
      if (named !== null && !appIds.includes(named)) throw unknownApp(named);
      const appId = named ?? (appIds.length === 1 ? appIds[0] : undefined);
      if (appId !== undefined) request.appId = appId;
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
