import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { createFaultDatabase, type FaultDatabase, numberedNotifications, storedFacts, testDatabaseUrl } from './support.js';

const skipped = testDatabaseUrl === null;

describe.skipIf(skipped)(
  `concurrent deliveries of the same notification to two replicas (PostgreSQL${skipped ? '; skipped: TEST_DATABASE_URL is not set' : ''})`,
  () => {
    let pki: TestPki;
    let database: FaultDatabase;
    const replicas: TestApp[] = [];

    beforeAll(async () => {
      pki = await createTestPki();
      database = await createFaultDatabase();
      // Two apps, each with its own connection pool, over one database: two replicas.
      for (let i = 0; i < 2; i += 1) {
        const handle = await openDatabase({ url: database.url, dataDir: 'memory://', poolMax: 6 });
        replicas.push(
          await createTestApp({
            pki,
            database: { handle, url: database.url, destroy: () => handle.close() },
            env: { RATE_LIMIT_WEBHOOK_PER_MINUTE: '0' },
          }),
        );
      }
    }, 60_000);
    afterAll(async () => {
      for (const replica of replicas) {
        await replica.close();
        await replica.deps.database.close();
      }
      await database?.drop();
    });

    it('answers processed exactly once per notification and duplicate to every other copy, storing each once', async () => {
      const notifications = numberedNotifications(pki, 10, '9');
      const copies = 12;
      const deliveries = notifications.flatMap((n) =>
        Array.from({ length: copies }, (_, copy) =>
          replicas[copy % replicas.length]!.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: n.signedPayload } }).then(
            (response) => ({ uuid: n.uuid, statusCode: response.statusCode, body: response.body }),
          ),
        ),
      );
      const answers = await Promise.all(deliveries);

      for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200);
      for (const n of notifications) {
        const statuses = answers.filter((a) => a.uuid === n.uuid).map((a) => (JSON.parse(a.body) as { status: string }).status);
        expect(statuses.filter((status) => status === 'processed')).toHaveLength(1);
        expect(statuses.filter((status) => status === 'duplicate')).toHaveLength(copies - 1);
      }
      const stored = await storedFacts(database.url);
      expect(stored.halfWritten).toEqual([]);
      expect(stored.notificationRows).toBe(notifications.length);
      expect(stored.transactionRows).toBe(notifications.length);
      expect(stored.subscriptionRows).toBe(notifications.length);
    }, 30_000);
  },
);
