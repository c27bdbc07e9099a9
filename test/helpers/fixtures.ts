// The set-up most test files share, registered once: build before the file's (or the
// describe's) tests, tear down after them. Accessors throw when read before the set-up ran.
// Options given as a function are read in beforeAll, so they may use what an earlier hook
// (of the same or an enclosing scope) built; hooks run in the order they are registered and
// tear down in the reverse order.
import { afterAll, beforeAll } from 'vitest';
import { type AppStoreServerApi, createAppStoreServerApi } from '../../src/apple/api/index.js';
import { createTestApp, type TestApp, type TestAppOptions } from './app.js';
import { type AppStoreApiDouble, type AppStoreApiDoubleOptions, createAppStoreApiDouble } from './app-store-api-double.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createTestPki, type TestPki, type TestPkiOptions } from './pki.js';

/** Migrating a database and making a PKI take seconds on a loaded machine or on PGlite. */
const SETUP_TIMEOUT_MS = 120_000;

/** Options now, or options read when the hook runs. */
export type Deferred<T> = T | (() => T | Promise<T>);

async function resolve<T>(options: Deferred<T>): Promise<T> {
  return typeof options === 'function' ? await (options as () => T | Promise<T>)() : options;
}

function ready<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is read before its beforeAll ran`);
  return value;
}

/** One migrated (or, with `migrate: false`, empty) database of the calling scope's own. */
export function useTestDatabase(options: { migrate?: boolean } = {}): { readonly database: TestDatabase } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(options);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await database?.destroy();
  });
  return {
    get database() {
      return ready(database, 'the database');
    },
  };
}

/** One test PKI (root, intermediate, signing leaf) for the tests of the calling scope. */
export function useTestPki(options: Deferred<TestPkiOptions> = {}): { readonly pki: TestPki } {
  let pki: TestPki | undefined;
  beforeAll(async () => {
    pki = await createTestPki(await resolve(options));
  }, SETUP_TIMEOUT_MS);
  return {
    get pki() {
      return ready(pki, 'the PKI');
    },
  };
}

export interface DatabaseAndPki {
  readonly database: TestDatabase;
  readonly pki: TestPki;
}

/**
 * One migrated database and one trusted PKI, shared by the tests of the calling scope: for
 * files whose tests (or several hooks) build their own apps over the same data.
 */
export function useDatabaseAndPki(options: { pki?: Deferred<TestPkiOptions> } = {}): DatabaseAndPki {
  let database: TestDatabase | undefined;
  let pki: TestPki | undefined;
  beforeAll(async () => {
    [database, pki] = await Promise.all([createTestDatabase(), createTestPki(await resolve(options.pki ?? {}))]);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await database?.destroy();
  });
  return {
    get database() {
      return ready(database, 'the database');
    },
    get pki() {
      return ready(pki, 'the PKI');
    },
  };
}

/**
 * The real app (createTestApp) for the tests of the calling scope, over a database of its
 * own unless the options name one.
 */
export function useTestApp(options: Deferred<TestAppOptions> = {}): TestApp {
  let started: TestApp | undefined;
  beforeAll(async () => {
    started = await createTestApp(await resolve(options));
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await started?.close();
  });
  const app = () => ready(started, 'the test app');
  return {
    get app() {
      return app().app;
    },
    get deps() {
      return app().deps;
    },
    get database() {
      return app().database;
    },
    get pki() {
      return app().pki;
    },
    close: () => app().close(),
  };
}

export interface ApiDoubleFixture {
  readonly double: AppStoreApiDouble;
  /** A client of the double that tries each call once and never sleeps, unless told otherwise. */
  client(options?: Partial<Parameters<typeof createAppStoreServerApi>[0]>): AppStoreServerApi;
}

/** A stand-in for Apple's App Store Server API (createAppStoreApiDouble) for the calling scope. */
export function useAppStoreApiDouble(options: AppStoreApiDoubleOptions = {}): ApiDoubleFixture {
  let double: AppStoreApiDouble | undefined;
  beforeAll(async () => {
    double = await createAppStoreApiDouble(options);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await double?.close();
  });
  const started = () => ready(double, 'the App Store Server API double');
  return {
    get double() {
      return started();
    },
    client: (overrides = {}) =>
      createAppStoreServerApi({ ...started().credentials, baseUrl: started().url, maxAttempts: 1, sleep: async () => {}, ...overrides }),
  };
}
