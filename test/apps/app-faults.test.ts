// Issue 19, "Bad input and faults": one app's App Store Server API down must not touch
// another app's recovery. Each app has its own client, recovery, bookmark and run log.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppStoreServerApi } from '../../src/apple/api/index.js';
import { HISTORY_PATH, historyPage } from '../admin/fixture.js';
import { TEST_ADMIN_KEY } from '../helpers/app.js';
import { type AppStoreApiDouble, createAppStoreApiDouble } from '../helpers/app-store-api-double.js';
import { createMultiAppTestApp, type MultiAppTestApp, THREE_APPS } from '../helpers/apps.js';
import { closedPortUrl } from '../helpers/closed-port.js';
import { backendName } from '../helpers/database.js';
import { createTestPki, signNotification } from '../helpers/pki.js';
import { countRows } from '../helpers/rows.js';

const [MAIN, KIDS] = THREE_APPS as [(typeof THREE_APPS)[number], (typeof THREE_APPS)[number]];

describe(`one app's App Store API down, another's recovery unaffected (${backendName})`, () => {
  let t: MultiAppTestApp;
  let double: AppStoreApiDouble;

  beforeAll(async () => {
    double = await createAppStoreApiDouble({ bundleId: MAIN.bundleId });
    const pki = await createTestPki();
    const sleep = async () => {};
    const main = createAppStoreServerApi({ ...double.credentials, baseUrl: double.url, maxAttempts: 1, sleep });
    // Nothing listens there: every call of this app fails.
    const kids = createAppStoreServerApi({
      ...double.credentials,
      bundleId: KIDS.bundleId,
      baseUrl: await closedPortUrl(),
      maxAttempts: 1,
      sleep,
      timeoutMs: 2_000,
    });
    t = await createMultiAppTestApp({ pki, apps: [MAIN, KIDS], apis: { [MAIN.id]: main, [KIDS.id]: kids } });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await double?.close();
  });

  it("recovers the healthy app's missed notification while the other app's recovery fails", async () => {
    const notification = signNotification(t.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID: randomUUID(),
      bundleId: MAIN.bundleId,
      environment: 'Sandbox',
      signedDate: Date.now() - 3_600_000,
      transaction: { transactionId: '2000000000999001', originalTransactionId: '2000000000999001', expiresDate: Date.now() + 86_400_000 },
      renewalInfo: { originalTransactionId: '2000000000999001' },
    });
    double.reply('POST', HISTORY_PATH, historyPage([notification]));

    const kids = await t.app.apps.of(KIDS.id)!.recovery!.runOnce();
    expect(kids.outcome).toBe('failure');
    const main = await t.app.apps.of(MAIN.id)!.recovery!.runOnce();
    expect(main).toMatchObject({ outcome: 'success', result: { applied: 1 } });

    expect((await countRows(t.databases.get(MAIN.id)!.database.db)).notifications).toBe(1);
    expect((await countRows(t.databases.get(KIDS.id)!.database.db)).notifications).toBe(0);
    // Each app's run log has its own run.
    const runs = async (appId: string) =>
      (
        await t.app.inject({
          method: 'GET',
          url: '/admin/notifications/recover/runs',
          headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'x-app-id': appId },
        })
      ).json().runs as Array<{ outcome: string }>;
    expect((await runs(MAIN.id)).map((run) => run.outcome)).toEqual(['success']);
    expect((await runs(KIDS.id)).map((run) => run.outcome)).toEqual(['failure']);
  });
});
