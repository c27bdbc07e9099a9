import cluster from 'node:cluster';
import { buildApp } from './app.js';
import { systemClock } from './clock.js';
import { clusterScrape, reportWorkerReady, resolveWorkers, runPrimary } from './cluster.js';
import { ConfigError } from './config.js';
import { closeAppDatabases, createDependencies, databasesOf } from './dependencies.js';
import { describeListenError } from './http/listen-error.js';
import { serviceVersion } from './http/openapi.js';
import { createRateLimitRedis } from './http/rate-limit.js';
import { environmentWithDotEnv, loadConfig } from './load-config.js';
import { createLogger } from './logger.js';
import { noopEvents } from './metrics/events.js';
import { createMetrics } from './metrics/metrics.js';
import { buildMetricsApp } from './metrics/metrics.routes.js';
import type { RunningTracing } from './tracing/tracing-sdk.js';

// The only module that reads process.env: settings → dependencies → app → listen.
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(environmentWithDotEnv(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, entitlementMap, catalogs } = loaded;
  // WORKERS: the primary supervises the workers (src/cluster.ts); each worker runs what follows.
  if (cluster.isPrimary) {
    const workers = resolveWorkers(config.workers, config.databaseUrl);
    if (workers > 1) {
      const supervisor = createLogger(config.logLevel);
      for (const warning of config.warnings) supervisor.warn(warning);
      runPrimary({ workers, logger: supervisor });
      return;
    }
  }
  // OpenTelemetry only with OTEL_* settings: without them the SDK is never even imported.
  let tracing: RunningTracing | null = null;
  if (config.tracing !== null) {
    const { startTracing } = await import('./tracing/tracing-sdk.js');
    tracing = await startTracing(config.tracing, serviceVersion());
  }
  const logger = createLogger(config.logLevel, undefined, { traceIds: tracing !== null });
  if (cluster.isPrimary) for (const warning of config.warnings) logger.warn(warning);
  if (config.databaseUrl === null && config.workers !== 1) {
    logger.warn({ WORKERS: config.workers }, 'embedded PGlite: one process serves PORT (the data directory has one owner); WORKERS applies to PostgreSQL');
  }

  // One registry for the process: the modules report through its events, the app serves it.
  // In a worker, /metrics answers every worker's registry, aggregated by the primary.
  // Its own events carry the only app's id (`app` label); with several apps each app reports through events.forApp(id).
  const ownMetrics = config.metricsEnabled ? createMetrics({ app: config.apps.length === 1 ? config.apps[0]!.id : '' }) : null;
  const metrics = ownMetrics && cluster.isWorker ? { ...ownMetrics, scrape: clusterScrape(ownMetrics.registry) } : ownMetrics;

  let deps;
  try {
    deps = await createDependencies(config, entitlementMap, logger, systemClock, metrics?.events ?? noopEvents, tracing?.tracing, catalogs);
  } catch (error) {
    // A DATA_DIR that is not a usable directory, or one another process holds: one line naming it.
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    logger.fatal({ err: error }, 'start-up failed: the database could not be opened or migrated');
    process.exit(1);
  }

  const redis = config.redisUrl ? createRateLimitRedis(config.redisUrl, logger) : null;
  const app = await buildApp({ ...deps, ...(metrics ? { metrics } : {}), redis });
  // METRICS_PORT: /metrics on a listener of its own (and not on PORT), closed with the app.
  const metricsApp = metrics && config.metricsPort !== null ? await buildMetricsApp({ metrics, config, logger }) : null;

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const forced = setTimeout(() => {
      logger.error('shutdown took longer than 25 s; exiting');
      process.exit(1);
    }, 25_000);
    forced.unref();
    try {
      await Promise.all([app.close(), metricsApp?.close()]);
      redis?.disconnect();
      await closeAppDatabases(databasesOf(deps));
      // The last spans (the requests just drained) are exported before the process ends.
      await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'the last traces could not be exported'));
      logger.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A worker whose primary is gone gets no more connections: it drains and exits.
  if (cluster.isWorker) process.on('disconnect', () => void shutdown('primary gone'));

  const listeners = [
    { server: app, address: { port: config.port, host: config.host, portSetting: 'PORT' } },
    ...(metricsApp ? [{ server: metricsApp, address: { port: config.metricsPort!, host: config.host, portSetting: 'METRICS_PORT' } }] : []),
  ];
  for (const { server, address } of listeners) {
    try {
      await server.listen({ port: address.port, host: address.host });
    } catch (error) {
      const reason = describeListenError(error, address);
      if (reason === null) throw error;
      process.stderr.write(`Cannot start: ${reason}\n`);
      await Promise.all([app.close(), metricsApp?.close()]).catch(() => undefined);
      redis?.disconnect();
      await closeAppDatabases(databasesOf(deps)).catch(() => undefined);
      process.exit(1);
    }
  }
  // Deliveries begin once the service is up; app.close() stops them and waits for attempts in flight.
  for (const each of app.apps.all) each.eventDelivery?.start();
  if (cluster.isWorker) reportWorkerReady();
  logger.info(
    {
      port: config.port,
      ...(cluster.isWorker ? { worker: cluster.worker?.id } : {}),
      eventWebhookUrls: config.eventsWebhook?.urls.length ?? 0,
      database: deps.database.kind,
      readReplica: deps.readReplica ? `READ_MAX_LAG ${config.readMaxLagMs} ms` : false,
      environments: config.apple.environments,
      rateLimitStore: redis ? 'redis' : 'memory',
      metrics: config.metricsEnabled ? (config.metricsPort !== null ? `port ${config.metricsPort}` : 'on PORT') : false,
      tracing: config.tracing === null ? false : config.tracing.url !== null ? new URL(config.tracing.url).origin : config.tracing.exporter,
    },
    'App Store Entitlements is listening',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`Fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
