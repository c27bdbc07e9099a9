// On PostgreSQL every app's commits NOTIFY on that app's channels (db/app-schema.ts): other
// replicas' entitlement caches and feed readers of one app hear its changes, and no other app's.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWER_INPUTS_CHANNEL } from '../../src/entitlements/answer-inputs-channel.js';
import { EVENTS_CHANNEL } from '../../src/events/recorder.js';
import { createMultiAppTestApp, type MultiAppTestApp, THREE_APPS } from '../helpers/apps.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { signNotification } from '../helpers/pki.js';

const [MAIN, KIDS] = THREE_APPS as [(typeof THREE_APPS)[number], (typeof THREE_APPS)[number]];

describe.skipIf(!testDatabaseUrl)('NOTIFY channels per app (PostgreSQL)', () => {
  let t: MultiAppTestApp;
  let listener: pg.Client;
  const heard: Array<{ channel: string }> = [];

  beforeAll(async () => {
    t = await createMultiAppTestApp({ apps: [MAIN, KIDS] });
    listener = new pg.Client({ connectionString: t.url! });
    await listener.connect();
    listener.on('notification', (message) => heard.push({ channel: message.channel }));
    const channels = new Set<string>();
    for (const app of [MAIN, KIDS]) {
      const names = t.databases.get(app.id)!.database.names;
      for (const base of [EVENTS_CHANNEL, ANSWER_INPUTS_CHANNEL]) channels.add(names.channel(base));
    }
    expect(channels.size).toBe(4);
    for (const channel of channels) await listener.query(`listen "${channel}"`);
  }, 120_000);
  afterAll(async () => {
    await listener?.end();
    await t?.close();
  });

  it("announces a kids purchase on the kids app's channels only; the default app keeps today's names", async () => {
    const kids = t.databases.get(KIDS.id)!.database.names;
    expect(t.databases.get(MAIN.id)!.database.names.channel(EVENTS_CHANNEL)).toBe(EVENTS_CHANNEL);
    const signedPayload = signNotification(t.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID: randomUUID(),
      bundleId: KIDS.bundleId,
      environment: 'Sandbox',
      signedDate: Date.now() - 60_000,
      transaction: {
        transactionId: '2000000000555001',
        originalTransactionId: '2000000000555001',
        appAccountToken: randomUUID(),
        expiresDate: Date.now() + 86_400_000,
      },
      renewalInfo: { originalTransactionId: '2000000000555001' },
    });
    expect((await t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } })).statusCode).toBe(200);
    await expect
      .poll(() => heard.map((each) => each.channel).sort(), { timeout: 5_000 })
      .toEqual([kids.channel(ANSWER_INPUTS_CHANNEL), kids.channel(EVENTS_CHANNEL)].sort());
  });
});
