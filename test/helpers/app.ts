import pino from 'pino';
import { type App, buildApp } from '../../src/app.js';
import { createSignedDataVerifier } from '../../src/apple/verifier/index.js';
import type { Clock } from '../../src/clock.js';
import { type Config, parseConfig } from '../../src/config.js';
import type { AppDeps } from '../../src/dependencies.js';
import { identityEntitlementMap } from '../../src/entitlements/entitlement-map.js';
import { noopEvents } from '../../src/metrics/events.js';
import { TEST_ADMIN_KEY, TEST_API_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from './constants.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createTestPki, type TestPki } from './pki.js';

export { TEST_ADMIN_KEY, TEST_API_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from './constants.js';

export const BASE_TEST_ENV: Record<string, string> = {
  APPLE_BUNDLE_ID: TEST_BUNDLE_ID,
  APPLE_APP_APPLE_ID: String(TEST_APP_APPLE_ID),
  API_KEYS: TEST_API_KEY,
  ADMIN_API_KEYS: TEST_ADMIN_KEY,
  APPLE_ONLINE_CHECKS: 'false',
  RECOVERY_INTERVAL: '0',
  LOG_LEVEL: 'silent',
};

export function testConfig(env: Record<string, string> = {}): Config {
  return parseConfig({ ...BASE_TEST_ENV, ...env });
}

export interface TestApp {
  app: App;
  deps: AppDeps;
  database: TestDatabase;
  pki: TestPki;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: Clock;
  pki?: TestPki;
  /** Reuse a database (e.g. to restart the app over the same data). */
  database?: TestDatabase;
  overrides?: Partial<AppDeps>;
}

/** The dependencies every test app has unless a test overrides them (createTestApp, createMultiAppTestApp). */
export function testDepsDefaults(clock: Clock = () => new Date()): Pick<AppDeps, 'clock' | 'logger' | 'events' | 'pressure'> {
  return {
    clock,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    events: noopEvents,
    // A loaded CI machine or PGlite's start-up can stall the event loop for a second;
    // load shedding has tests of its own (they pass `pressure` themselves) and must not turn
    // other tests' requests into 503s. Off here, so no other test restates it.
    pressure: { maxEventLoopDelayMs: 0 },
  };
}

/** The real app over a migrated database of the test's own, trusting the test PKI's root. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(options.env);
  const pki = options.pki ?? (await createTestPki());
  const database = options.database ?? (await createTestDatabase());
  const defaults = testDepsDefaults(options.clock);
  const verifier = createSignedDataVerifier({
    rootCertificates: [pki.rootDer],
    bundleId: config.apple.bundleId,
    ...(config.apple.appAppleId !== null ? { appAppleId: config.apple.appAppleId } : {}),
    environments: config.apple.environments,
    onlineChecks: false,
    clock: defaults.clock,
  });
  const deps: AppDeps = {
    ...defaults,
    config,
    database: database.handle,
    verifier,
    entitlementMap: identityEntitlementMap,
    appStoreApi: null,
    ...options.overrides,
  };
  const app = await buildApp(deps);
  return {
    app,
    deps,
    database,
    pki,
    async close() {
      await app.close();
      if (!options.database) await database.destroy();
    },
  };
}

export const authHeader = (key = TEST_API_KEY) => ({ authorization: `Bearer ${key}` });
