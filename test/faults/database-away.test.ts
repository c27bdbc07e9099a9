import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import {
  type CuttableProxy,
  createCuttableProxy,
  createFaultDatabase,
  type FaultDatabase,
  forEachConcurrently,
  type NumberedNotification,
  numberedNotifications,
  sleep,
  storedFacts,
  testDatabaseUrl,
} from './support.js';

const skipped = testDatabaseUrl === null;

describe.skipIf(skipped)(
  `database taken away during a stream of notifications (PostgreSQL through a cuttable proxy${skipped ? '; skipped: TEST_DATABASE_URL is not set' : ''})`,
  () => {
    let pki: TestPki;
    let database: FaultDatabase;
    let proxy: CuttableProxy;
    let t: TestApp;

    beforeAll(async () => {
      pki = await createTestPki();
      database = await createFaultDatabase();
      proxy = await createCuttableProxy(database.server);
      const handle = await openDatabase({ url: database.urlThrough(proxy), dataDir: 'memory://', poolMax: 8, onPoolError: () => {} });
      t = await createTestApp({
        pki,
        database: { handle, url: database.urlThrough(proxy), destroy: () => handle.close() },
        env: { RATE_LIMIT_WEBHOOK_PER_MINUTE: '0' },
      });
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      await t?.deps.database.close();
      await proxy?.close();
      await database?.drop();
    });

    const post = (n: NumberedNotification) => t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: n.signedPayload } });
    const readiness = async () => (await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode;

    it('answers 200 only for stored notifications and 503 for the rest, which apply exactly once when re-sent', async () => {
      const stream = numberedNotifications(pki, 240);
      const answers = new Map<string, number[]>();
      const record = (n: NumberedNotification, status: number) => answers.set(n.uuid, [...(answers.get(n.uuid) ?? []), status]);
      let sent = 0;
      let readyWhileAway: number | null = null;

      // The database goes away after a third of the stream and comes back after two thirds.
      const outage = (async () => {
        while (sent < 80) await sleep(2);
        proxy.cut();
        await sleep(50);
        readyWhileAway = await readiness();
        while (sent < 160) await sleep(2);
        proxy.restore();
      })();
      await forEachConcurrently(stream, 8, async (n) => {
        sent += 1;
        const response = await post(n);
        record(n, response.statusCode);
        if (response.statusCode !== 200) {
          expect(response.statusCode, response.body).toBe(503);
          expect(response.json()).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
        }
      });
      await outage;

      expect(readyWhileAway).toBe(503);
      const failed = stream.filter((n) => answers.get(n.uuid)?.[0] !== 200);
      // The outage really interrupted the stream, and the stream went on after it.
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.length).toBeLessThan(stream.length);

      // Every 200 is durably stored, and nothing is half-written.
      const during = await storedFacts(database.url);
      expect(during.halfWritten).toEqual([]);
      for (const n of stream) if (answers.get(n.uuid)?.[0] === 200) expect(during.notifications.has(n.uuid)).toBe(true);

      // Back: ready again, and Apple's retries of the failed ones apply each once.
      let ready = 0;
      for (let attempt = 0; attempt < 50 && ready !== 200; attempt += 1) {
        ready = await readiness();
        if (ready !== 200) await sleep(100);
      }
      expect(ready).toBe(200);
      for (const n of failed) {
        const response = await post(n);
        expect(response.statusCode, response.body).toBe(200);
        // A notification committed just as the connection dropped answers 'duplicate' now.
        expect(['processed', 'duplicate']).toContain((response.json() as { status: string }).status);
      }
      const after = await storedFacts(database.url);
      expect(after.halfWritten).toEqual([]);
      expect(after.notificationRows).toBe(stream.length);
      expect(after.transactionRows).toBe(stream.length);
      expect(after.subscriptionRows).toBe(stream.length);
      expect(stream.every((n) => after.notifications.has(n.uuid))).toBe(true);

      // No pooled connection is left checked out by a statement that failed mid-outage.
      const pool = t.deps.database.poolStats();
      expect(pool?.idle).toBe(pool?.total);
      // And a further retry of anything changes nothing.
      for (const n of stream.slice(0, 20)) expect((await post(n)).json()).toEqual({ status: 'duplicate' });
      expect(await storedFacts(database.url)).toEqual(after);
    }, 60_000);
  },
);
