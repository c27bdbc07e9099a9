// Fault injection against a real PostgreSQL: a TCP proxy the test can cut between the
// service and its database (the shared server itself is never touched), a database of
// the test's own, the service as a process of its own, numbered notifications, and the
// checks of "stored exactly once".
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { BASE_TEST_ENV, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { createEmptyDatabase, testDatabaseUrl, withClient } from '../helpers/database.js';
import { signNotification, type TestPki } from '../helpers/pki.js';
import { prepareServiceProcess, type ServiceProcess } from '../helpers/service-process.js';

export { testDatabaseUrl };

export interface CuttableProxy {
  port: number;
  /** Destroys every open connection and refuses new ones until restored. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy on loopback to `target`; cutting it looks to the service like the database went away. */
export async function createCuttableProxy(target: { host: string; port: number }): Promise<CuttableProxy> {
  const open = new Set<Socket>();
  let down = false;
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    cut() {
      down = true;
      for (const socket of open) socket.destroy();
    },
    restore() {
      down = false;
    },
    async close() {
      down = true;
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface FaultDatabase {
  /** Direct URL of this test's own database. */
  url: string;
  /** The same database reached through `proxy`. */
  urlThrough(proxy: CuttableProxy): string;
  /** Where the shared server listens (the proxy's target). */
  server: { host: string; port: number };
  drop(): Promise<void>;
}

/** A fresh database on the server of TEST_DATABASE_URL, migrated. */
export async function createFaultDatabase(): Promise<FaultDatabase> {
  const empty = await createEmptyDatabase();
  if (empty.url === null) throw new Error('fault tests need TEST_DATABASE_URL');
  const handle = await openDatabase({ url: empty.url, dataDir: 'memory://' });
  try {
    await migrateDatabase(handle);
  } finally {
    await handle.close();
  }
  const parsed = new URL(empty.url);
  return {
    url: empty.url,
    urlThrough(proxy) {
      const through = new URL(empty.url!);
      through.hostname = '127.0.0.1';
      through.port = String(proxy.port);
      return through.toString();
    },
    server: { host: parsed.hostname, port: Number(parsed.port || 5432) },
    drop: empty.drop,
  };
}

/**
 * The service as a process of its own (src/server.ts), for the tests that kill it: the test
 * app's settings, both environments, on `databaseUrl`; its log at warn, shown when a start fails.
 */
export function prepareFaultService(
  pki: TestPki,
  databaseUrl: string,
  options: { env?: Record<string, string>; readyTimeoutMs: number; workDirPrefix: string },
): Promise<ServiceProcess> {
  return prepareServiceProcess({
    rootDer: pki.rootDer,
    env: { ...BASE_TEST_ENV, LOG_LEVEL: 'warn', APPLE_ENVIRONMENTS: 'Production,Sandbox', DATABASE_URL: databaseUrl, ...options.env },
    readyTimeoutMs: options.readyTimeoutMs,
    workDirPrefix: options.workDirPrefix,
  });
}

export interface NumberedNotification {
  index: number;
  uuid: string;
  transactionId: string;
  signedPayload: string;
}

/**
 * `count` notifications, each about its own subscription (its own transaction), so a
 * stored notification must come with exactly one transaction row and one subscription row.
 */
export function numberedNotifications(pki: TestPki, count: number, prefix = '7'): NumberedNotification[] {
  const signedDate = Date.parse('2025-06-01T12:00:00Z');
  return Array.from({ length: count }, (_, index) => {
    const uuid = randomUUID();
    const transactionId = `${prefix}${String(index).padStart(15 - prefix.length + 1, '0')}`;
    const signedPayload = signNotification(pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID: uuid,
      signedDate: signedDate + index,
      bundleId: TEST_BUNDLE_ID,
      appAppleId: TEST_APP_APPLE_ID,
      environment: 'Sandbox',
      transaction: { transactionId, originalTransactionId: transactionId, webOrderLineItemId: `${transactionId}1` },
      renewalInfo: { originalTransactionId: transactionId },
    });
    return { index, uuid, transactionId, signedPayload };
  });
}

export interface StoredFacts {
  notifications: Set<string>;
  notificationRows: number;
  transactionRows: number;
  subscriptionRows: number;
  /** Notifications stored without their transaction, or transactions without their notification. */
  halfWritten: string[];
}

/** Reads what the database holds, over a connection of its own (not the service's). */
export async function storedFacts(url: string): Promise<StoredFacts> {
  return withClient(url, async (client) => {
    const notificationRows = await client.query<{ id: string; transaction_id: string | null }>('select id, transaction_id from notifications');
    const transactionRows = await client.query<{ transaction_id: string }>('select transaction_id from transactions');
    const subscriptionRows = await client.query<{ n: number }>('select count(*)::int as n from subscriptions');
    const withNotification = new Set(notificationRows.rows.map((row) => row.transaction_id));
    const withTransaction = new Set(transactionRows.rows.map((row) => row.transaction_id));
    const halfWritten = [
      ...notificationRows.rows.filter((row) => !withTransaction.has(row.transaction_id ?? '')).map((row) => `notification ${row.id}`),
      ...transactionRows.rows.filter((row) => !withNotification.has(row.transaction_id)).map((row) => `transaction ${row.transaction_id}`),
    ];
    return {
      notifications: new Set(notificationRows.rows.map((row) => row.id)),
      notificationRows: notificationRows.rows.length,
      transactionRows: transactionRows.rows.length,
      subscriptionRows: subscriptionRows.rows[0]?.n ?? 0,
      halfWritten,
    };
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `worker` over `items` with at most `concurrency` in flight. */
export async function forEachConcurrently<T>(items: T[], concurrency: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        await worker(item);
      }
    }),
  );
}
