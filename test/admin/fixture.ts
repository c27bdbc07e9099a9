import { randomUUID } from 'node:crypto';
import { count, eq } from 'drizzle-orm';
import { afterEach } from 'vitest';
import type { AppStoreServerApi } from '../../src/apple/api/index.js';
import { notifications } from '../../src/db/schema.js';
import type { ServiceEvents } from '../../src/metrics/events.js';
import { noopEvents } from '../../src/metrics/events.js';
import { createTestApp, TEST_ADMIN_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID, type TestApp, type TestAppOptions } from '../helpers/app.js';
import type { AppStoreApiDouble } from '../helpers/app-store-api-double.js';
import { HOUR } from '../helpers/constants.js';
import type { TestDatabase } from '../helpers/database.js';
import { useAppStoreApiDouble, useDatabaseAndPki } from '../helpers/fixtures.js';
import { signNotification, type TestPki } from '../helpers/pki.js';
import { wipe } from '../helpers/rows.js';

export const ADMIN = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
export const HISTORY_PATH = '/inApps/v1/notifications/history';

export type RecoveryRunEvent = Parameters<ServiceEvents['recoveryRun']>[0];

export interface AdminFixture {
  double: AppStoreApiDouble;
  /** The file's database; emptied after every test. */
  database: TestDatabase;
  pki: TestPki;
  /** A client of the double that never sleeps and tries each call once, unless told otherwise. */
  api(options?: { maxAttempts?: number; baseUrl?: string }): AppStoreServerApi;
  /** The app with the double as its App Store Server API, recording recovery events. */
  app(options?: TestAppOptions & { api?: AppStoreServerApi | null }): Promise<TestApp & { runs: RecoveryRunEvent[] }>;
  /** A V2 notification signed by the trusted test PKI. */
  notification(environment?: 'Production' | 'Sandbox', transactionId?: string): string;
  /** Rows in the notifications table, by source. */
  recorded(app: TestApp, source?: string): Promise<number>;
}

/**
 * One API double, PKI and database per test file (a migrated database costs seconds);
 * every test builds its own app over it, and the tables are emptied after each test.
 */
export function useAdminFixture(): AdminFixture {
  const opened: TestApp[] = [];
  const apple = useAppStoreApiDouble({ bundleId: TEST_BUNDLE_ID });
  const shared = useDatabaseAndPki();
  const fixture = Object.defineProperties({} as AdminFixture, {
    double: { get: () => apple.double },
    database: { get: () => shared.database },
    pki: { get: () => shared.pki },
  });
  afterEach(async () => {
    fixture.double.requests.length = 0;
    fixture.double.rejected.length = 0;
    fixture.double.reset();
    await Promise.all(opened.splice(0).map((app) => app.close()));
    await wipe(fixture.database.handle.db);
  });

  fixture.api = (options = {}) =>
    apple.client({ ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}), maxAttempts: options.maxAttempts ?? 1, timeoutMs: 5_000 });

  fixture.app = async (options = {}) => {
    const runs: RecoveryRunEvent[] = [];
    const events: ServiceEvents = { ...noopEvents, recoveryRun: (event) => runs.push(event) };
    const { api, overrides, ...rest } = options;
    const app = await createTestApp({
      pki: fixture.pki,
      database: fixture.database,
      ...rest,
      overrides: {
        appStoreApi: api === undefined ? fixture.api() : api,
        events,
        ...overrides,
      },
    });
    opened.push(app);
    return Object.assign(app, { runs });
  };

  fixture.notification = (environment = 'Production', transactionId = `20000000${Math.floor(Math.random() * 1e8)}`) =>
    signNotification(fixture.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID: randomUUID(),
      bundleId: TEST_BUNDLE_ID,
      appAppleId: TEST_APP_APPLE_ID,
      environment,
      transaction: { transactionId, originalTransactionId: transactionId },
      renewalInfo: { originalTransactionId: transactionId },
    });

  fixture.recorded = async (app, source) => {
    const db = app.deps.database.db;
    const query = db.select({ n: count() }).from(notifications);
    const [row] = await (source === undefined ? query : query.where(eq(notifications.source, source)));
    return row?.n ?? 0;
  };

  return fixture;
}

/** A history page as Apple sends it. */
export function historyPage(signedPayloads: string[], next?: string) {
  return {
    body: {
      notificationHistory: signedPayloads.map((signedPayload) => ({
        signedPayload,
        sendAttempts: [{ attemptDate: 1_700_000_000_000, sendAttemptResult: 'TIMED_OUT' }],
      })),
      hasMore: next !== undefined,
      ...(next !== undefined ? { paginationToken: next } : {}),
    },
  };
}

export const hoursAgo = (hours: number, now = new Date()) => new Date(now.getTime() - hours * HOUR).toISOString();
