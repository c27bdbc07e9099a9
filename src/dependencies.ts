import type { Logger } from 'pino';
import type { AppDeps } from './app.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { openDatabase } from './db/client.js';
import { migrateDatabase } from './db/migrate.js';
import type { EntitlementMap } from './entitlements/entitlement-map.js';
import { createAppStoreServerApi } from './apple/api/index.js';
import { noopEvents, type ServiceEvents } from './metrics/events.js';
import {
  createSignedDataVerifier,
  DEFAULT_ROOT_CERTIFICATE_PATH,
  loadRootCertificates,
} from './apple/verifier/index.js';

/**
 * Builds every dependency from a loaded configuration: the one place that wires
 * the service together, shared by server.ts and the operator CLI.
 */
export async function createDependencies(
  config: Config,
  entitlementMap: EntitlementMap,
  logger: Logger,
  clock: Clock = systemClock,
  events: ServiceEvents = noopEvents,
): Promise<AppDeps> {
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    onPoolError: (error) => logger.warn({ err: error }, 'idle database connection failed'),
  });
  try {
    if (config.migrateOnStart) await migrateDatabase(database);
  } catch (error) {
    await database.close();
    throw error;
  }

  const verifier = createSignedDataVerifier({
    rootCertificates: loadRootCertificates(config.apple.rootCertPaths ?? [DEFAULT_ROOT_CERTIFICATE_PATH]),
    bundleId: config.apple.bundleId,
    ...(config.apple.appAppleId !== null ? { appAppleId: config.apple.appAppleId } : {}),
    environments: config.apple.environments,
    onlineChecks: config.apple.onlineChecks,
    clock,
    signatureChecks: 'worker',
  });

  const credentials = config.apple.credentials;
  const appStoreApi = credentials
    ? createAppStoreServerApi({
        issuerId: credentials.issuerId,
        keyId: credentials.keyId,
        privateKey: credentials.privateKey,
        bundleId: config.apple.bundleId,
        ...(config.apple.apiBaseUrl ? { baseUrl: config.apple.apiBaseUrl } : {}),
        clock,
        verifier,
        onCall: (call) => events.appStoreApiCall(call),
      })
    : null;

  return { config, database, clock, logger, verifier, entitlementMap, appStoreApi, events };
}
