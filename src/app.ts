import Fastify, {
  LogController, type FastifyBaseLogger, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config, TrustProxy } from './config.js';
import type { DatabaseHandle } from './db/client.js';
import type { SignedDataVerifier } from './apple/types.js';
import type { EntitlementMap } from './entitlements/entitlement-map.js';
import type { AppStoreServerApi } from './apple/api/index.js';
import type { ServiceEvents } from './metrics/events.js';
import { frameworkErrorHandler, installErrorHandler } from './http/error-handler.js';
import { installShutdownGuard } from './http/shutdown.js';
import { KeySet } from './http/auth.js';
import { ErrorResponse } from './http/schemas.js';
import { healthRoutes } from './health/health.routes.js';
import { registerLegacyRoutes } from './legacy/legacy.routes.js';
import type { VerifyReceiptClient } from './apple/verify-receipt/index.js';
import { registerAppBackendRoutes } from './entitlements/app-backend.js';
import { adminRoutes } from './admin/admin.routes.js';
import { installRecoveryJob } from './admin/recovery.job.js';
import type { Redis } from 'ioredis';
import { adminLimitFor, installRateLimits } from './http/rate-limit.js';
import { installPressureGuard, type PressureLimits } from './http/pressure.js';
import { installOpenApi, serviceVersion } from './http/openapi.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { installMetrics } from './metrics/metrics.routes.js';
import { webhookRoutes } from './notifications/webhook.routes.js';

/** Everything the app uses, built by the composition root (server.ts) or a test. */
export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  verifier: SignedDataVerifier;
  entitlementMap: EntitlementMap;
  /** null without App Store Server API credentials: the service then works from notifications alone. */
  appStoreApi: AppStoreServerApi | null;
  events: ServiceEvents;
  /** The Prometheus registry behind `events`; when absent, buildApp makes one for HTTP, pool and process metrics. */
  metrics?: Metrics;
  /** Shared rate-limit counters (REDIS_URL); absent or null keeps them in memory. */
  redis?: Redis | null;
  /** Overrides of the load-shedding thresholds (tests). */
  pressure?: Partial<PressureLimits>;
  /** Apple's verifyReceipt client for V1 without Server API credentials; absent: built from the config. */
  verifyReceipt?: VerifyReceiptClient | null;
  /** DER roots app receipts must chain to; absent: the bundled Apple Inc. Root. */
  receiptRootCertificates?: Uint8Array[];
}

// Apple's notifications are a few tens of KB; nothing legitimate comes near this.
export const BODY_LIMIT_BYTES = 256 * 1024;

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

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
    logController: new LogController({ disableRequestLogging: true }),
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

  const appKeys = new KeySet(config.apiKeys);
  const adminKeys = new KeySet(config.adminApiKeys);
  app.decorate('keys', { app: appKeys, admin: adminKeys });

  // Operations plugins first: each one must see every route registered below.
  installShutdownGuard(app);
  await installPressureGuard(app, deps.pressure);
  await installRateLimits(app, {
    limits: { ...config.rateLimit, adminPerMinute: adminLimitFor(config.rateLimit.apiPerMinute) },
    keys: { app: appKeys, admin: adminKeys },
    redis: deps.redis ?? null,
  });
  await installOpenApi(app, { version: serviceVersion() });
  if (config.metricsEnabled) {
    installMetrics(app, {
      metrics: deps.metrics ?? createMetrics(),
      database: deps.database,
      token: config.metricsToken,
      // With METRICS_PORT the route lives on server.ts's metrics listener; requests here are still timed.
      serveRoute: config.metricsPort === null,
    });
  }

  await app.register(healthRoutes, { database: deps.database, clock: deps.clock });
  await registerAppBackendRoutes(app, deps);
  await registerLegacyRoutes(app, deps);
  await app.register(adminRoutes, { deps });
  installRecoveryJob(app, deps);
  await app.register(webhookRoutes, { database: deps.database, verifier: deps.verifier, clock: deps.clock, events: deps.events });

  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    keys: { app: KeySet; admin: KeySet };
  }
}
