import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_API_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { freePort, type RunningProcess, runEntry, waitForStatus } from '../helpers/process.js';
import {
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
  `service process killed with SIGKILL mid-stream and restarted (PostgreSQL${skipped ? '; skipped: TEST_DATABASE_URL is not set' : ''})`,
  () => {
    let pki: TestPki;
    let database: FaultDatabase;
    let workDir: string;
    let env: Record<string, string>;
    let base: string;
    const running: RunningProcess[] = [];

    beforeAll(async () => {
      pki = await createTestPki();
      database = await createFaultDatabase();
      workDir = mkdtempSync(path.join(tmpdir(), 'ase-kill-'));
      const rootFile = path.join(workDir, 'test-root.der');
      writeFileSync(rootFile, pki.rootDer);
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      env = {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        APPLE_BUNDLE_ID: TEST_BUNDLE_ID,
        APPLE_APP_APPLE_ID: String(TEST_APP_APPLE_ID),
        APPLE_ENVIRONMENTS: 'Production,Sandbox',
        APPLE_ROOT_CERTS: rootFile,
        APPLE_ONLINE_CHECKS: 'false',
        API_KEYS: TEST_API_KEY,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_WEBHOOK_PER_MINUTE: '0',
        RECOVERY_INTERVAL: '0',
        DATA_DIR: path.join(workDir, 'data'),
      };
    }, 60_000);
    afterAll(async () => {
      for (const process of running) if (process.child.exitCode === null) process.child.kill('SIGKILL');
      await Promise.all(running.map((process) => process.exited));
      await database?.drop();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    async function start(): Promise<RunningProcess> {
      const service = runEntry('src/server.ts', { env, cwd: workDir });
      running.push(service);
      await waitForStatus(`${base}/readyz`, 200, 45_000, service);
      return service;
    }

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
      const service = await start();

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

      await start();
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
