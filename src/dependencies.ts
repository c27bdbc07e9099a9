import path from 'node:path';
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
import { PUBLIC_SCHEMA, schemaOfApp } from './db/app-schema.js';
import type { DatabaseHandle } from './db/client.js';
import { openDatabase } from './db/client.js';
import { migrateDatabase } from './db/migrate.js';
import type { EntitlementMap } from './entitlements/entitlement-map.js';
import type { DeliveryWorkerOptions } from './events/delivery.worker.js';
import type { PressureLimits } from './http/pressure.js';
import { noopEvents, type ServiceEvents } from './metrics/events.js';
import type { Metrics } from './metrics/metrics.js';
import { noopTracing, type Tracing } from './tracing/tracing.js';

/** One app's database: its primary handle (its schema, or its own PGlite database) and its read replica's. */
export interface AppDatabase {
  database: DatabaseHandle;
  readReplica: DatabaseHandle | null;
}

/**
 * The infrastructure the service runs on, built once by server.ts, the CLI or a test:
 * a leaf, so every module may name it without importing the app. Use cases are built
 * from it by createServices (services.ts).
 */
export interface AppDeps {
  config: Config;
  /** The first app's database (the CLI and the code that serves one app use it; probes and metrics look at every app's). */
  database: DatabaseHandle;
  /**
   * Each app's database by app id, the first app's included. Absent: one app, on `database`
   * and `readReplica`.
   */
  appDatabases?: ReadonlyMap<string, AppDatabase>;
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
  const appDatabases = new Map<string, AppDatabase>();
  try {
    for (const app of config.apps) appDatabases.set(app.id, await openAppDatabase(config, app.id, logger));
  } catch (error) {
    await closeAppDatabases(appDatabases.values());
    throw error;
  }
  const { database, readReplica } = appDatabases.get(config.apps[0]!.id)!;

  const apps = buildAppRegistry(config, entitlementMap, catalogs, clock, events, tracing);
  const first = apps.first;

  return {
    config,
    database,
    readReplica,
    appDatabases,
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

/**
 * Where app `appId` keeps its data: on PostgreSQL the schema of its id (db/app-schema.ts) in
 * DATABASE_URL's database; on embedded PGlite a database of its own, `<DATA_DIR>/apps/<id>`
 * (a fresh in-memory one under `memory://`). App `default` keeps `public` and DATA_DIR itself.
 */
export function appDatabaseLocation(config: Pick<Config, 'dataDir'>, appId: string): { schema: string; dataDir: string } {
  const schema = schemaOfApp(appId);
  if (schema === PUBLIC_SCHEMA) return { schema, dataDir: config.dataDir };
  const dataDir = config.dataDir.startsWith('memory://') ? 'memory://' : path.join(config.dataDir, 'apps', appId);
  return { schema, dataDir };
}

/** Opens (and with MIGRATE_ON_START migrates) app `appId`'s database, and its read replica's handle. */
export async function openAppDatabase(config: Config, appId: string, logger: Logger): Promise<AppDatabase> {
  const { schema, dataDir } = appDatabaseLocation(config, appId);
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir,
    schema,
    genericPoolMax: config.entitlementsReadPoolSize,
    onPoolError: (error) => logger.warn({ err: error, app: appId }, 'idle database connection failed'),
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
          dataDir,
          schema,
          genericPoolMax: config.entitlementsReadPoolSize,
          onPoolError: (error) => logger.warn({ err: error, app: appId }, 'idle read replica connection failed'),
        });
  return { database, readReplica };
}

/** Closes every handle of these apps' databases. */
export async function closeAppDatabases(databases: Iterable<AppDatabase>): Promise<void> {
  await Promise.all([...databases].flatMap(({ database, readReplica }) => [database.close(), readReplica?.close()]));
}

/** Each app's database by app id: `appDatabases`, or the one app's (the first configured) on `database` and `readReplica`. */
export function appDatabasesOf(deps: AppDeps): ReadonlyMap<string, AppDatabase> {
  return deps.appDatabases ?? new Map([[deps.config.apps[0]!.id, { database: deps.database, readReplica: deps.readReplica ?? null }]]);
}

/** Every handle deps hold: each app's, or the one app's. */
export function databasesOf(deps: AppDeps): AppDatabase[] {
  return deps.appDatabases ? [...deps.appDatabases.values()] : [{ database: deps.database, readReplica: deps.readReplica ?? null }];
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
