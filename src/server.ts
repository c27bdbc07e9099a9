import { buildApp } from './app.js';
import { systemClock } from './clock.js';
import { ConfigError } from './config.js';
import { createDependencies } from './dependencies.js';
import { describeListenError } from './http/listen-error.js';
import { createRateLimitRedis } from './http/rate-limit.js';
import { environmentWithDotEnv, loadConfig } from './load-config.js';
import { createLogger } from './logger.js';
import { noopEvents } from './metrics/events.js';
import { createMetrics } from './metrics/metrics.js';
import { buildMetricsApp } from './metrics/metrics.routes.js';

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
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);

  // One registry for the process: the modules report through its events, the app serves it.
  const metrics = config.metricsEnabled ? createMetrics() : null;

  let deps;
  try {
    deps = await createDependencies(config, entitlementMap, logger, systemClock, metrics?.events ?? noopEvents, catalogs);
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
      await deps.database.close();
      logger.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

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
      await deps.database.close().catch(() => undefined);
      process.exit(1);
    }
  }
  // Deliveries begin once the service is up; app.close() stops them and waits for attempts in flight.
  app.eventDelivery?.start();
  logger.info(
    {
      port: config.port,
      eventWebhookUrls: config.eventsWebhook?.urls.length ?? 0,
      database: deps.database.kind,
      environments: config.apple.environments,
      rateLimitStore: redis ? 'redis' : 'memory',
      metrics: config.metricsEnabled ? (config.metricsPort !== null ? `port ${config.metricsPort}` : 'on PORT') : false,
    },
    'App Store Entitlements is listening',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`Fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
