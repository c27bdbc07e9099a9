import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { AppServices } from '../app-services.js';
import type { Config } from '../config.js';
import { unauthorized } from '../errors.js';
import { frameworkErrorHandler, installErrorHandler } from '../http/error-handler.js';
import { ErrorResponse, errorResponses } from '../http/schemas.js';
import type { Metrics } from './metrics.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** onRequest check of METRICS_TOKEN; digests compared in constant time, whatever the lengths. */
function requireMetricsToken(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) throw unauthorized('The metrics bearer token is required');
  };
}

function metricsRoute(app: FastifyInstance, metrics: Metrics, token: string | null): void {
  app.get(
    '/metrics',
    {
      ...(token !== null ? { onRequest: requireMetricsToken(token) } : {}),
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics in the text exposition format (METRICS_TOKEN: bearer token required)',
        produces: ['text/plain'],
        response: {
          200: Type.String({
            description: 'Prometheus text format',
            examples: ['# HELP ase_notifications_total ...\nase_notifications_total{version="v2",type="DID_RENEW",outcome="processed"} 12\n'],
          }),
          ...errorResponses(401),
        },
      },
    },
    async (_request, reply) => {
      const body = await metrics.scrape();
      return reply.type(metrics.registry.contentType).send(body);
    },
  );
}

export interface InstallMetricsOptions {
  metrics: Metrics;
  /** METRICS_TOKEN; null serves the route without a token. */
  token: string | null;
  /** false when METRICS_PORT moves the route to a listener of its own. */
  serveRoute: boolean;
}

/**
 * Times every request and, unless METRICS_PORT moves it, serves `/metrics`. Installed on
 * the root instance (not as an encapsulated plugin) so the timing hook sees every module's routes.
 */
export function installMetrics(app: FastifyInstance, { metrics, token, serveRoute }: InstallMetricsOptions): void {
  // A callback hook, not an async one: it runs on every request and has nothing to wait for.
  app.addHook('onResponse', (request, reply, done) => {
    // The route template keeps the label set bounded; unmatched URLs share one label.
    const route = request.routeOptions.url ?? 'unmatched';
    // request.appId: the app the request acted for (the auth hooks set it); '' for none (health, a refused key).
    metrics.observeHttpRequest({ route, method: request.method, status: reply.statusCode, app: request.appId ?? '' }, reply.elapsedTime / 1000);
    done();
  });

  if (serveRoute) metricsRoute(app, metrics, token);
}

/**
 * Every app's operational gauges, read on each scrape and labelled with the app: its
 * database pool, entitlement cache, read replica routing and oldest undelivered event.
 */
export function trackAppMetrics(metrics: Metrics, apps: readonly AppServices[]): void {
  for (const each of apps) {
    const id = each.app.id;
    const database = each.database;
    metrics.trackDatabasePool(id, () => database.poolStats());
    const cache = each.entitlementsCache.cache;
    metrics.trackEntitlementsCache(id, () => cache.stats());
    const routing = each.readRouting;
    if (routing) metrics.trackReadReplica(id, () => ({ status: routing.status(), reads: routing.reads() }));
    const delivery = each.eventDelivery;
    if (delivery) metrics.trackOldestPendingEvent(id, () => delivery.oldestPendingAgeSeconds());
  }
}

/**
 * The METRICS_PORT listener: `/metrics` alone (the same registry as the service), the
 * token when set, the SPEC error shape. Built here, listened to by server.ts. It has no
 * rate limit: it is meant for a private network, which is the point of a port of its own.
 */
export async function buildMetricsApp(deps: { metrics: Metrics; config: Config; logger: Logger }): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors: frameworkErrorHandler,
    forceCloseConnections: 'idle',
    requestTimeout: deps.config.http.requestTimeoutMs,
  });
  app.addSchema(ErrorResponse);
  installErrorHandler(app);
  metricsRoute(app, deps.metrics, deps.config.metricsToken);
  await app.ready();
  return app;
}
