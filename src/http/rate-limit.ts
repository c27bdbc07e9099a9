import rateLimitPlugin, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TooManyRequestsError } from '../errors.js';
import { APP_ID_HEADER, type KeySet, recordBearerKeyIndex } from './auth.js';

// Limits are chosen by URL prefix in one root onRequest hook, so route modules declare
// nothing, and the limit is counted before any route's own hooks (auth included): an
// unauthenticated flood is limited too, per client IP.

export type RateLimitClass = 'webhook' | 'admin' | 'api' | 'probe';

/**
 * Requests per minute per admin key: far fewer than the app backend's (some admin calls fan
 * out to Apple), but room for the console, which makes up to seven calls to draw one page.
 */
export const ADMIN_PER_MINUTE = 600;

const WINDOW_MS = 60_000;
// Probes and scrapes have a budget of their own, per client IP: an app key or a webhook
// sender being limited never starves them, and a flood of them is limited too.
const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

export interface RateLimits {
  /** Per client IP on /webhooks/*; 0 = no limit. */
  webhookPerMinute: number;
  /** Per API key and app (client IP without a valid key) on the app-backend routes; 0 = no limit. */
  apiPerMinute: number;
  /** Per admin key and app on /admin/*; 0 = no limit. */
  adminPerMinute: number;
  /** Per client IP on /healthz, /readyz, /metrics; 0 = no limit. */
  probePerMinute: number;
}

/** The admin limit follows the API one: never looser, and off when the API limit is off. */
export function adminLimitFor(apiPerMinute: number): number {
  return apiPerMinute === 0 ? 0 : Math.min(ADMIN_PER_MINUTE, apiPerMinute);
}

/** `url` is the route template (e.g. `/entitlements/:userId`), or the raw URL when no route matched. */
export function rateLimitClass(url: string): RateLimitClass {
  const path = url.split('?')[0]!;
  if (PROBE_ROUTES.has(path)) return 'probe';
  if (path.startsWith('/webhooks/')) return 'webhook';
  if (path === '/admin' || path.startsWith('/admin/')) return 'admin';
  return 'api';
}

/**
 * The bucket key of each request of class `name` (SPEC "Several apps": one app's traffic
 * never spends another's budget). With a valid key of `keys`, that key's budget in the app
 * the request is for: the key's own app, else the app X-App-Id names (an id of the
 * installation; the auth hook, which runs later, refuses any other), else the only app, else
 * none. Without one, the client IP's. Auth has not run yet, so the key is matched here, and
 * the match is left on the request for the auth hook (request.keyMatch): the token is hashed
 * once. Each key's bucket strings are made once per app.
 */
function bucketKeys(name: string, keys: KeySet, appIds: readonly string[]): (request: FastifyRequest) => string {
  const known = new Set(appIds);
  const only = appIds.length === 1 ? appIds[0]! : '';
  // Per key position: app id ('' for none) → bucket key. Bounded: the installation's apps and ''.
  const made = Array.from({ length: keys.size }, () => new Map<string, string>());
  const bucketOf = (index: number, app: string): string => {
    const ofKey = made[index]!;
    let bucket = ofKey.get(app);
    if (bucket === undefined) {
      bucket = app === '' ? `${name}:key:${keys.idAt(index)}` : `${name}:${app}:key:${keys.idAt(index)}`;
      ofKey.set(app, bucket);
    }
    return bucket;
  };
  return (request) => {
    const index = recordBearerKeyIndex(request, keys);
    if (index < 0) return `${name}:ip:${normalizeIP(request.ip)}`;
    const own = keys.ownerAt(index);
    if (own !== null) return bucketOf(index, own);
    // A repeated header arrives as an array: it names no app.
    const named = request.headers[APP_ID_HEADER];
    return bucketOf(index, typeof named === 'string' && known.has(named) ? named : only);
  };
}

export class RateLimitedError extends TooManyRequestsError {
  constructor(retryAfterSeconds: number) {
    super('RATE_LIMITED', `Rate limit exceeded; retry in ${retryAfterSeconds} s`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}

export interface InstallRateLimitsOptions {
  limits: RateLimits;
  keys: { app: KeySet; admin: KeySet };
  /** Shared counters for several replicas; null keeps them in this process's memory. */
  redis?: Redis | null;
}

type Limiter = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Registers @fastify/rate-limit (no global limit) and the hook that picks a limit per route. */
export async function installRateLimits(app: FastifyInstance, options: InstallRateLimitsOptions): Promise<void> {
  const { limits, keys } = options;
  // Declared up front (null), so every request has the same shape whether or not it is matched here.
  app.decorateRequest('keyMatch', null);
  await app.register(rateLimitPlugin, {
    global: false,
    timeWindow: WINDOW_MS,
    ...(options.redis ? { redis: options.redis, nameSpace: 'ase-rate-limit:' } : {}),
    // A Redis outage must not take the service down with it: limits fail open.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000))),
  });

  const limiter = (max: number, keyGenerator: (request: FastifyRequest) => string): Limiter | null =>
    max > 0 ? (app.rateLimit({ max, timeWindow: WINDOW_MS, keyGenerator }) as Limiter) : null;

  // Admin keys are no app's: their app is the one X-App-Id names, among the app keys' apps.
  const appIds = keys.app.appIds;
  const limiters: Record<RateLimitClass, Limiter | null> = {
    webhook: limiter(limits.webhookPerMinute, (request) => `webhook:${normalizeIP(request.ip)}`),
    api: limiter(limits.apiPerMinute, bucketKeys('api', keys.app, appIds)),
    admin: limiter(limits.adminPerMinute, bucketKeys('admin', keys.admin, appIds)),
    probe: limiter(limits.probePerMinute, (request) => `probe:${normalizeIP(request.ip)}`),
  };

  // The class of each route template, worked out once (templates are a fixed set; a URL
  // that matched no route is classed each time, and not kept).
  const classOfRoute = new Map<string, RateLimitClass>();
  const classOf = (request: FastifyRequest): RateLimitClass => {
    const route = request.routeOptions.url;
    if (route === undefined) return rateLimitClass(request.url);
    let known = classOfRoute.get(route);
    if (known === undefined) {
      known = rateLimitClass(route);
      classOfRoute.set(route, known);
    }
    return known;
  };

  // A callback hook: without a limit for the request's class (RATE_LIMIT_*_PER_MINUTE=0) it
  // costs no promise.
  app.addHook('onRequest', function (request, reply, done) {
    const limit = limiters[classOf(request)];
    if (!limit) {
      done();
      return;
    }
    limit.call(this, request, reply).then(() => done(), done);
  });
}

/**
 * The Redis client for shared limits. Commands fail fast instead of queueing while
 * Redis is away, so a request never waits on it (and `skipOnError` lets it through).
 */
export function createRateLimitRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    connectTimeout: 2_000,
  });
  let reported = false;
  redis.on('error', (error: Error) => {
    // One line per outage, not one per reconnection attempt.
    if (!reported) logger.warn({ err: error }, 'rate-limit Redis unavailable; limits are not enforced until it returns');
    reported = true;
  });
  redis.on('ready', () => {
    if (reported) logger.info('rate-limit Redis is back');
    reported = false;
  });
  return redis;
}
