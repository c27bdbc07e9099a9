// A service with several apps (APPS_FILE, SPEC "Several apps") over one test database: each
// app's data in its own schema (PostgreSQL) or its own in-memory database (PGlite), built the
// way the service builds them (appDatabaseLocation), verified by one verifier family that
// trusts the test PKI.
import { type App, buildApp } from '../../src/app.js';
import { createAppRegistry } from '../../src/app-registry.js';
import type { AppStoreServerApi } from '../../src/apple/api/index.js';
import { createVerifierFamily } from '../../src/apple/verifier/index.js';
import type { Clock } from '../../src/clock.js';
import type { AppConfig, Config } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { type AppDatabase, type AppDeps, appDatabaseLocation, closeAppDatabases } from '../../src/dependencies.js';
import { identityEntitlementMap } from '../../src/entitlements/entitlement-map.js';
import { testConfig, testDepsDefaults } from './app.js';
import { createEmptyDatabase } from './database.js';
import { createTestPki, type TestPki } from './pki.js';

/** A key of API_KEYS: with APPS_FILE it acts for no app of its own and names one (X-App-Id). */
export const GLOBAL_API_KEY = 'global-api-key-0123456789';

export interface TestAppSpec {
  id: string;
  bundleId: string;
  /** The app's own key (apiKeys). */
  apiKey: string;
  sharedSecret?: string;
}

/** Three apps, each with its own key; `default` keeps the public schema. */
export const THREE_APPS: readonly TestAppSpec[] = [
  { id: 'default', bundleId: 'com.example.main', apiKey: 'main-app-key-0123456789', sharedSecret: 'main-secret-0123456789abcdef0123' },
  { id: 'kids', bundleId: 'com.example.kids', apiKey: 'kids-app-key-0123456789', sharedSecret: 'kids-secret-0123456789abcdef0123' },
  { id: 'Photo.Pro-2', bundleId: 'com.example.photo', apiKey: 'photo-app-key-0123456789' },
];

export interface MultiAppTestApp {
  app: App;
  deps: AppDeps;
  pki: TestPki;
  config: Config;
  databases: ReadonlyMap<string, AppDatabase>;
  /** The URL of the PostgreSQL database every app shares, or null on PGlite. */
  url: string | null;
  close(): Promise<void>;
}

export interface MultiAppOptions {
  apps?: readonly TestAppSpec[];
  env?: Record<string, string>;
  clock?: Clock;
  pki?: TestPki;
  /** App Store Server API clients by app id (absent: none for that app). */
  apis?: Readonly<Record<string, AppStoreServerApi>>;
  overrides?: Partial<AppDeps>;
}

/** The configuration parseConfig makes of an APPS_FILE listing `apps`, with GLOBAL_API_KEY in API_KEYS. */
export function multiAppConfig(apps: readonly TestAppSpec[], env: Record<string, string> = {}): Config {
  const base = testConfig(env);
  const template = base.apps[0]!;
  const appConfigs: AppConfig[] = apps.map((spec, index) => ({
    ...template,
    id: spec.id,
    bundleId: spec.bundleId,
    appAppleId: template.appAppleId === null ? null : template.appAppleId + index,
    sharedSecret: spec.sharedSecret ?? null,
    apiKeys: [spec.apiKey],
    catalogFile: null,
    credentials: null,
    offerKey: null,
  }));
  const first = appConfigs[0]!;
  return {
    ...base,
    appsFile: 'apps.json',
    apps: appConfigs,
    apiKeys: [GLOBAL_API_KEY, ...apps.map((spec) => spec.apiKey)],
    apple: { ...base.apple, bundleId: first.bundleId, appAppleId: first.appAppleId, sharedSecret: first.sharedSecret, credentials: null, offerKey: null },
  };
}

/** Opens and migrates each app's database on one fresh test database. */
export async function openTestAppDatabases(
  apps: readonly { id: string }[],
): Promise<{ url: string | null; databases: Map<string, AppDatabase>; drop(): Promise<void> }> {
  const empty = await createEmptyDatabase();
  const databases = new Map<string, AppDatabase>();
  try {
    for (const app of apps) {
      const { schema, dataDir } = appDatabaseLocation({ dataDir: 'memory://' }, app.id);
      const database = await openDatabase({ url: empty.url, dataDir, schema });
      databases.set(app.id, { database, readReplica: null });
      await migrateDatabase(database);
    }
  } catch (error) {
    await closeAppDatabases(databases.values());
    await empty.drop();
    throw error;
  }
  return { url: empty.url, databases, drop: () => empty.drop() };
}

export async function createMultiAppTestApp(options: MultiAppOptions = {}): Promise<MultiAppTestApp> {
  const specs = options.apps ?? THREE_APPS;
  const config = multiAppConfig(specs, options.env);
  const pki = options.pki ?? (await createTestPki());
  const defaults = testDepsDefaults(options.clock);
  const { url, databases, drop } = await openTestAppDatabases(config.apps);
  const family = createVerifierFamily({ rootCertificates: [pki.rootDer], onlineChecks: false, clock: defaults.clock });
  const apps = createAppRegistry(config.apps, (app) => ({
    verifier: family.forApp({ bundleId: app.bundleId, ...(app.appAppleId !== null ? { appAppleId: app.appAppleId } : {}), environments: app.environments }),
    appStoreApi: options.apis?.[app.id] ?? null,
    catalog: identityEntitlementMap,
  }));
  const first = databases.get(config.apps[0]!.id)!;
  const deps: AppDeps = {
    ...defaults,
    config,
    database: first.database,
    appDatabases: databases,
    verifier: apps.first.verifier,
    entitlementMap: identityEntitlementMap,
    appStoreApi: apps.first.appStoreApi,
    apps,
    ...options.overrides,
  };
  const app = await buildApp(deps);
  return {
    app,
    deps,
    pki,
    config,
    databases,
    url,
    async close() {
      await app.close();
      await closeAppDatabases(databases.values());
      await drop();
    },
  };
}
