import rateLimitPlugin, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { TooManyRequestsError } from '../errors.js';
import type { KeySet } from './auth.js';

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
  /** Per API key (client IP without a valid key) on the app-backend routes; 0 = no limit. */
  apiPerMinute: number;
  /** Per admin key on /admin/*; 0 = no limit. */
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

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** The key's id when the request carries a valid one (auth has not run yet), else the client IP. */
function keyOrIp(request: FastifyRequest, keys: KeySet): string {
  const token = bearerToken(request);
  const id = request.apiKeyId ?? (token === null ? null : keys.match(token));
  return id !== null ? `key:${id}` : `ip:${normalizeIP(request.ip)}`;
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
  await app.register(rateLimitPlugin, {
    global: false,
    timeWindow: WINDOW_MS,
    ...(options.redis ? { redis: options.redis, nameSpace: 'ase-rate-limit:' } : {}),
    // A Redis outage must not take the service down with it: limits fail open.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000))),
  });

  const limiter = (name: string, max: number, key: (request: FastifyRequest) => string): Limiter | null =>
    max > 0 ? (app.rateLimit({ max, timeWindow: WINDOW_MS, keyGenerator: (request) => `${name}:${key(request)}` }) as Limiter) : null;

  const limiters: Record<RateLimitClass, Limiter | null> = {
    webhook: limiter('webhook', limits.webhookPerMinute, (request) => normalizeIP(request.ip)),
    api: limiter('api', limits.apiPerMinute, (request) => keyOrIp(request, keys.app)),
    admin: limiter('admin', limits.adminPerMinute, (request) => keyOrIp(request, keys.admin)),
    probe: limiter('probe', limits.probePerMinute, (request) => normalizeIP(request.ip)),
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
