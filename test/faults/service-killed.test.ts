import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import type { ServiceProcess } from '../helpers/service-process.js';
import {
  createFaultDatabase,
  type FaultDatabase,
  forEachConcurrently,
  type NumberedNotification,
  numberedNotifications,
  prepareFaultService,
  sleep,
  storedFacts,
  testDatabaseUrl,
} from './support.js';

const skipped = testDatabaseUrl === null;

describe.skipIf(skipped)(
  `service process killed with SIGKILL mid-stream and restarted (PostgreSQL${skipped ? '; skipped: TEST_DATABASE_URL is not set' : ''})`,
  () => {
    let pki: TestPki;
    let database: FaultDatabase;
    let serviceProcess: ServiceProcess;
    let base: string;

    beforeAll(async () => {
      pki = await createTestPki();
      database = await createFaultDatabase();
      serviceProcess = await prepareFaultService(pki, database.url, { readyTimeoutMs: 45_000, workDirPrefix: 'ase-kill-' });
      base = serviceProcess.baseUrl;
    }, 60_000);
    afterAll(async () => {
      await serviceProcess?.stop('SIGKILL');
      await database?.drop();
    });

    /** Posts over HTTP; a refused or reset connection counts as no answer (0). */
    async function post(n: NumberedNotification): Promise<{ status: number; body: string }> {
      try {
        const response = await fetch(`${base}/webhooks/apple/v2`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ signedPayload: n.signedPayload }),
        });
        return { status: response.status, body: await response.text() };
      } catch {
        return { status: 0, body: '' };
      }
    }

    /** Re-sends the way Apple does: a 503 (load shedding after the restart) or no answer is tried again later. */
    async function redeliver(n: NumberedNotification): Promise<{ status: number; body: string }> {
      let answer = await post(n);
      for (let attempt = 0; attempt < 40 && (answer.status === 503 || answer.status === 0); attempt += 1) {
        await sleep(250);
        answer = await post(n);
      }
      return answer;
    }

    it('stores every notification answered 200, and applies each of the others exactly once when re-sent', async () => {
      const stream = numberedNotifications(pki, 200, '8');
      const first = new Map<string, number>();
      const service = await serviceProcess.start();

      let answered = 0;
      await forEachConcurrently(stream, 8, async (n) => {
        const { status } = await post(n);
        first.set(n.uuid, status);
        if (status === 200) answered += 1;
        // Killed without warning while other requests are in flight.
        if (answered === 60 && service.child.exitCode === null) service.child.kill('SIGKILL');
      });
      await service.exited;

      const unanswered = stream.filter((n) => first.get(n.uuid) !== 200);
      expect(unanswered.length).toBeGreaterThan(0);
      const afterKill = await storedFacts(database.url);
      expect(afterKill.halfWritten).toEqual([]);
      for (const n of stream) if (first.get(n.uuid) === 200) expect(afterKill.notifications.has(n.uuid)).toBe(true);

      await serviceProcess.start();
      for (const n of unanswered) {
        const { status, body } = await redeliver(n);
        expect(status, body).toBe(200);
        // Committed just before the kill, but never answered: now a duplicate.
        expect(['processed', 'duplicate']).toContain((JSON.parse(body) as { status: string }).status);
      }
      const after = await storedFacts(database.url);
      expect(after.halfWritten).toEqual([]);
      expect(after.notificationRows).toBe(stream.length);
      expect(after.transactionRows).toBe(stream.length);
      expect(after.subscriptionRows).toBe(stream.length);
      expect(stream.every((n) => after.notifications.has(n.uuid))).toBe(true);
    }, 120_000);
  },
);
