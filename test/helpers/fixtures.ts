// The set-up most test files share, registered once: build before the file's (or the
// describe's) tests, tear down after them. Accessors throw when read before the set-up ran.
import { afterAll, beforeAll } from 'vitest';
import { createTestApp, type TestApp, type TestAppOptions } from './app.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createTestPki, type TestPki } from './pki.js';

/** Migrating a database and making a PKI take seconds on a loaded machine or on PGlite. */
const SETUP_TIMEOUT_MS = 120_000;

function ready<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is read before its beforeAll ran`);
  return value;
}

export interface DatabaseAndPki {
  readonly database: TestDatabase;
  readonly pki: TestPki;
}

/** One migrated database and one trusted PKI, shared by the tests of the calling scope. */
export function useDatabaseAndPki(options: { pki?: Parameters<typeof createTestPki>[0] } = {}): DatabaseAndPki {
  let database: TestDatabase | undefined;
  let pki: TestPki | undefined;
  beforeAll(async () => {
    [database, pki] = await Promise.all([createTestDatabase(), createTestPki(options.pki)]);
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
 * own unless the options name one. Options given as a function are read in beforeAll, so
 * they may use what an earlier hook built.
 */
export function useTestApp(options: TestAppOptions | (() => TestAppOptions | Promise<TestAppOptions>) = {}): TestApp {
  let started: TestApp | undefined;
  beforeAll(async () => {
    started = await createTestApp(typeof options === 'function' ? await options() : options);
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
