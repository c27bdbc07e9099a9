import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { adminRoutes } from './admin/admin.routes.js';
import { appsRoutes } from './admin/apps.routes.js';
import { extensionsRoutes } from './admin/extensions.routes.js';
import { grantsRoutes } from './admin/grants.routes.js';
import { lookupRoutes } from './admin/lookup.routes.js';
import { ordersRoutes } from './admin/orders.routes.js';
import type { RecoveryScheduler } from './admin/recovery.job.js';
import { supportViewsRoutes } from './admin/support-views.routes.js';
import { userRefreshRoutes } from './admin/user-refresh.routes.js';
import { analyticsRoutes } from './analytics/analytics.routes.js';
import type { TrustProxy } from './config.js';
import { consumptionAdminRoutes, consumptionRoutes } from './consumption/consumption.routes.js';
import type { ConsumptionSender } from './consumption/consumption.sender.js';
import type { ReadRouting } from './db/read-routing.js';
import type { AppDeps } from './dependencies.js';
import { entitlementsRoutes } from './entitlements/entitlements.routes.js';
import type { KeptAnswer } from './entitlements/entitlements.usecase.js';
import type { RecordsCache } from './entitlements/records-cache.js';
import type { DeliveryWorker } from './events/delivery.worker.js';
import type { EventJobs } from './events/events.jobs.js';
import { eventsRoutes } from './events/events.routes.js';
import { eventsAdminRoutes } from './events/events-admin.routes.js';
import { healthRoutes } from './health/health.routes.js';
import { KeySet } from './http/auth.js';
import { installConsole } from './http/console.js';
import { frameworkErrorHandler, installErrorHandler } from './http/error-handler.js';
import { installOpenApi, serviceVersion } from './http/openapi.js';
import { installPressureGuard } from './http/pressure.js';
import { adminLimitFor, installRateLimits } from './http/rate-limit.js';
import { installRequestId, requestIdOf } from './http/request-id.js';
import { lazyChildLogger } from './http/request-logger.js';
import { ErrorResponse } from './http/schemas.js';
import { servedApps } from './http/served-apps.js';
import { installShutdownGuard } from './http/shutdown.js';
import { receiptsRoutes } from './legacy/receipts.routes.js';
import { v1WebhookRoutes } from './legacy/v1-webhook.routes.js';
import { createMetrics } from './metrics/metrics.js';
import { installMetrics, trackAppMetrics } from './metrics/metrics.routes.js';
import { webhookRoutes } from './notifications/webhook.routes.js';
import { offersRoutes } from './offers/offers.routes.js';
import { consoleFolder } from './paths.js';
import { createServices, type Services } from './services.js';
import { installHttpSpans } from './tracing/http-spans.js';
import { appTransactionRoutes } from './users/app-transaction.routes.js';
import type { TokenUpdates } from './users/token-updates.job.js';
import { usersRoutes } from './users/users.routes.js';

// Apple's notifications are a few tens of KB; nothing legitimate comes near this.
export const BODY_LIMIT_BYTES = 256 * 1024;

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/**
 * TRUST_PROXY for Fastify. Addresses go as they are. Fastify 5 treats a bare hop count as
 * "trust nobody" (it cannot vouch for the peer), which would silently put every client
 * behind the balancer under the balancer's address; so a hop count becomes the function
 * Express has always used: the nearest `hops` addresses are proxies.
 */
function fastifyTrustProxy(trustProxy: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trustProxy !== 'number') return trustProxy;
  const hops = trustProxy;
  return hops === 0 ? false : (_address, hop) => hop < hops;
}

/** Builds the app: plugins, error handler, routes. Never listens (server.ts does). */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Per-request lines would dominate the log at webhook rates; modules log what matters.
    // X-Request-Id: the caller's when safe (http/request-id.ts), else a UUID; on every line of request.log.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Each request's logger is built when it first logs (most requests never do).
    childLoggerFactory: lazyChildLogger,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    bodyLimit: BODY_LIMIT_BYTES,
    // Off: Fastify's 503 during a drain has its own body; installShutdownGuard answers in SPEC's shape.
    return503OnClosing: false,
    // Router errors (a malformed URL, an over-long id) leave in the SPEC error shape too.
    frameworkErrors: frameworkErrorHandler,
    forceCloseConnections: 'idle',
    // Slow clients (REQUEST_TIMEOUT, HEADERS_TIMEOUT): Node checks these deadlines only every
    // connectionsCheckingInterval (30 s by default), which held a trickled body for up to
    // twice the limit; checking every second keeps the cut within a second of it.
    requestTimeout: config.http.requestTimeoutMs,
    http: {
      requestTimeout: config.http.requestTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      connectionsCheckingInterval: 1_000,
    },
    connectionTimeout: 60_000,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Connections past the cap are closed on arrival: a flood of idle sockets cannot take every file descriptor.
  if (config.http.maxConnections > 0) app.server.maxConnections = config.http.maxConnections;

  app.addSchema(ErrorResponse);
  installErrorHandler(app);

  // Each app's keys act for it; with APPS_FILE the keys of API_KEYS are no app's and name one (X-App-Id).
  const keyOwner = new Map(config.apps.flatMap((each) => each.apiKeys.map((key) => [key, each.id] as const)));
  const appKeys = new KeySet(config.apiKeys, { ownerOf: (key) => keyOwner.get(key) ?? null, appIds: config.apps.map((each) => each.id) });
  const adminKeys = new KeySet(config.adminApiKeys);
  app.decorate('keys', { app: appKeys, admin: adminKeys });

  // Operations plugins first: each one must see every route registered below. The request id
  // and the request's span come before any hook that may answer early (draining, rate limits).
  installRequestId(app);
  if (deps.tracing?.enabled) installHttpSpans(app, deps.tracing);
  installShutdownGuard(app);
  await installPressureGuard(app, deps.pressure);
  await installRateLimits(app, {
    limits: { ...config.rateLimit, adminPerMinute: adminLimitFor(config.rateLimit.apiPerMinute) },
    keys: { app: appKeys, admin: adminKeys },
    redis: deps.redis ?? null,
  });
  await installOpenApi(app, { version: serviceVersion() });
  await installConsole(app, { folder: deps.consoleFolder ?? consoleFolder });
  const metrics = config.metricsEnabled ? (deps.metrics ?? createMetrics()) : null;
  if (metrics) {
    installMetrics(app, {
      metrics,
      token: config.metricsToken,
      // With METRICS_PORT the route lives on server.ts's metrics listener; requests here are still timed.
      serveRoute: config.metricsPort === null,
    });
  }

  const services = createServices(deps);
  // Each app's background jobs (recovery, events, cache listener, token updates, consumption,
  // replica check) start with the app and stop with it; close() also waits for background refreshes.
  // The decorations below are the first app's (tests drive them); `apps` has every app's.
  app.decorate('apps', services);
  app.decorate('recoveryJob', services.recoveryJob);
  app.decorate('eventJobs', services.eventJobs);
  app.decorate('entitlementsCache', services.entitlementsCache.cache);
  app.decorate('tokenUpdates', services.tokenUpdates);
  // The replica's lag is checked once a second from start to close (services.close stops it).
  app.decorate('readRouting', services.readRouting);
  app.decorate('consumptionSender', services.consumptionSender);
  app.addHook('onReady', async () => services.start());
  app.addHook('onClose', async () => services.close());
  // Started by server.ts once listening (tests and the CLI drive it themselves); stopped by close().
  app.decorate('eventDelivery', services.eventDelivery);
  // Each app's pool, cache, replica and delivery backlog, labelled with its app.
  if (metrics) trackAppMetrics(metrics, services.all);
  // A draining process answers its waiting feed readers now rather than after up to 30 s.
  app.addHook('preClose', async () => {
    for (const each of services.all) each.feedSignal.close();
  });

  // Every route module is a plugin that picks, per request, the use cases of the request's app.
  const apps = servedApps(services);
  // Ready while every app's database answers; with APPS_FILE the answer names each app.
  const readiness = services.all.map((each) => {
    const routing = each.readRouting;
    return { app: each.app.id, database: each.database, readReplica: routing ? () => routing.status() : null };
  });
  await app.register(healthRoutes, { apps: readiness, namesApps: config.appsFile !== null, clock: deps.clock });
  await app.register(entitlementsRoutes, { apps });
  await app.register(usersRoutes, { apps });
  await app.register(appTransactionRoutes, { apps });
  await app.register(v1WebhookRoutes, { apps });
  await app.register(receiptsRoutes, { apps });
  await app.register(adminRoutes, { apps });
  await app.register(appsRoutes, { apps: config.apps });
  await app.register(ordersRoutes, { apps });
  await app.register(eventsAdminRoutes, { apps });
  await app.register(extensionsRoutes, { apps });
  await app.register(consumptionRoutes, { apps });
  await app.register(consumptionAdminRoutes, { apps });
  await app.register(grantsRoutes, { apps });
  await app.register(userRefreshRoutes, { apps });
  await app.register(supportViewsRoutes, { apps });
  await app.register(lookupRoutes, { apps });
  await app.register(analyticsRoutes, { apps });
  await app.register(webhookRoutes, { apps });
  await app.register(eventsRoutes, { apps });
  await app.register(offersRoutes, { apps });

  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    keys: { app: KeySet; admin: KeySet };
    /** Every app's use cases (`apps.of(id)`); the decorations below are the first app's. */
    apps: Services;
    /** The periodic recovery job, when it runs in this process (tests tick it directly). */
    recoveryJob: RecoveryScheduler | null;
    /** The event delivery worker (EVENTS_WEBHOOK_URLS), or null; server.ts starts it. */
    eventDelivery: DeliveryWorker | null;
    /** The events' answer check and pruning (tests run them directly). */
    eventJobs: EventJobs;
    /** The entitlement read's cache (tests look at its stats). */
    entitlementsCache: RecordsCache<KeptAnswer>;
    /** Set App Account Token requests and their retry job (tests run it directly). */
    tokenUpdates: TokenUpdates;
    /** Routes reads to DATABASE_READ_URL while it is current; null without it (tests run its check directly). */
    readRouting: ReadRouting | null;
    /** Answers Apple's consumption requests (tests run it directly). */
    consumptionSender: ConsumptionSender;
  }
}
