import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type AppRegistry, createAppRegistry } from './app-registry.js';
import type { AppStoreServerApi } from './apple/api/index.js';
import { createAppStoreServerApi } from './apple/api/index.js';
import type { SignedDataVerifier } from './apple/types.js';
import { createVerifierFamily, DEFAULT_ROOT_CERTIFICATE_PATH, loadRootCertificates } from './apple/verifier/index.js';
import type { VerifyReceiptClient } from './apple/verify-receipt/index.js';
import { type Clock, systemClock } from './clock.js';
import type { AppConfig, Config } from './config.js';
import type { DatabaseHandle } from './db/client.js';
import { openDatabase } from './db/client.js';
import { migrateDatabase } from './db/migrate.js';
import type { EntitlementMap } from './entitlements/entitlement-map.js';
import type { DeliveryWorkerOptions } from './events/delivery.worker.js';
import type { PressureLimits } from './http/pressure.js';
import { noopEvents, type ServiceEvents } from './metrics/events.js';
import type { Metrics } from './metrics/metrics.js';
import { noopTracing, type Tracing } from './tracing/tracing.js';

/**
 * The infrastructure the service runs on, built once by server.ts, the CLI or a test:
 * a leaf, so every module may name it without importing the app. Use cases are built
 * from it by createServices (services.ts).
 */
export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  /** The streaming replica of DATABASE_READ_URL (never migrated, only read); absent or null: reads go to `database`. */
  readReplica?: DatabaseHandle | null;
  clock: Clock;
  logger: Logger;
  /** The first app's (`apps.first.verifier`), for the code that is not per app yet. */
  verifier: SignedDataVerifier;
  /** The first app's catalog. */
  entitlementMap: EntitlementMap;
  /** The first app's client; null without App Store Server API credentials: the service then works from notifications alone. */
  appStoreApi: AppStoreServerApi | null;
  /**
   * Every app with its own verifier, API client, offer key, shared secret, catalog and keys.
   * Absent (tests that build their own verifier and client): one app made of the fields above.
   */
  apps?: AppRegistry;
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
  /** OpenTelemetry spans (OTEL_* settings); absent: the no-op tracing. */
  tracing?: Tracing;
  /** Overrides of the event delivery worker's timings (tests: short timeouts, fast polling). */
  eventDeliveryOptions?: Partial<DeliveryWorkerOptions>;
  /** The built operator console served at /console/; absent: dist/console (`npm run build`). */
  consoleFolder?: string;
}

/**
 * Builds the infrastructure from a loaded configuration (server.ts and the operator CLI);
 * createServices then builds the use cases over it.
 */
export async function createDependencies(
  config: Config,
  entitlementMap: EntitlementMap,
  logger: Logger,
  clock: Clock = systemClock,
  events: ServiceEvents = noopEvents,
  tracing: Tracing = noopTracing,
  catalogs: ReadonlyMap<string, EntitlementMap> = new Map([[config.apps[0]!.id, entitlementMap]]),
): Promise<AppDeps> {
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    genericPoolMax: config.entitlementsReadPoolSize,
    onPoolError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
  });
  try {
    if (config.migrateOnStart) await migrateDatabase(database);
  } catch (error) {
    await database.close();
    throw error;
  }

  // Opened lazily by the pool: an unreachable replica only sends reads to the primary.
  const readReplica =
    config.databaseReadUrl === null
      ? null
      : await openDatabase({
          url: config.databaseReadUrl,
          dataDir: config.dataDir,
          genericPoolMax: config.entitlementsReadPoolSize,
          onPoolError: (error) => logger.warn({ err: error }, 'idle read replica connection failed'),
        });

  const apps = buildAppRegistry(config, entitlementMap, catalogs, clock, events, tracing);
  const first = apps.first;

  return {
    config,
    database,
    readReplica,
    clock,
    logger,
    verifier: first.verifier,
    entitlementMap: first.catalog,
    appStoreApi: first.appStoreApi,
    apps,
    events,
    tracing,
  };
}

/** Every app's verifier (one family: shared caches), App Store Server API client and catalog; no I/O. */
export function buildAppRegistry(
  config: Config,
  entitlementMap: EntitlementMap,
  catalogs: ReadonlyMap<string, EntitlementMap>,
  clock: Clock,
  events: ServiceEvents,
  tracing: Tracing = noopTracing,
): AppRegistry {
  // One family for every app: the chain and OCSP caches and the signature worker are shared.
  const verifiers = createVerifierFamily({
    rootCertificates: loadRootCertificates(config.apple.rootCertPaths ?? [DEFAULT_ROOT_CERTIFICATE_PATH]),
    onlineChecks: config.apple.onlineChecks,
    clock,
    signatureChecks: 'worker',
    tracing,
  });
  const apiOf = (app: AppConfig): AppStoreServerApi | null => {
    const credentials = app.credentials;
    return credentials
      ? createAppStoreServerApi({
          issuerId: credentials.issuerId,
          keyId: credentials.keyId,
          privateKey: credentials.privateKey,
          bundleId: app.bundleId,
          ...(config.apple.apiBaseUrl ? { baseUrl: config.apple.apiBaseUrl } : {}),
          clock,
          onCall: (call) => events.appStoreApiCall(call),
          tracing,
        })
      : null;
  };
  return createAppRegistry(config.apps, (app) => ({
    verifier: verifiers.forApp({
      bundleId: app.bundleId,
      ...(app.appAppleId !== null ? { appAppleId: app.appAppleId } : {}),
      environments: app.environments,
    }),
    appStoreApi: apiOf(app),
    catalog: catalogs.get(app.id) ?? (app.id === config.apps[0]!.id ? entitlementMap : missingCatalog(app.id)),
  }));
}

function missingCatalog(appId: string): never {
  throw new Error(`no catalog was loaded for app "${appId}"`);
}
