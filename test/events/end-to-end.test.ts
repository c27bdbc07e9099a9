import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { deliver, scenario } from '../notifications/support.js';
import { recordedEvents } from './support.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

// A long poll interval: only the recorder's wake-up can bring the event out promptly.
const t = useTestApp(() => ({
  env: { EVENTS_WEBHOOK_URLS: receiver.url, EVENTS_WEBHOOK_SECRET: SECRET },
  overrides: { eventDeliveryOptions: { pollIntervalMs: 3_600_000 } },
}));

describe(`from Apple's notification to the app backend (${backendName})`, () => {
  it('posts the events a notification records, as the feed has them, woken by their commit', async () => {
    t.app.eventDelivery!.start();
    const userId = randomUUID();
    const start = Date.now() - DAY;
    const s = scenario(t.pki, { start });
    // The round at start-up is over and found nothing; the notification's commit must wake the worker.
    await t.app.eventDelivery!.tick();
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: s.transaction(0, { appAccountToken: userId }) }));

    await receiver.waitFor(2);
    const recorded = await recordedEvents(t.database.handle.db);
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual(recorded.map((e) => e.id));
    expect(receiver.requests.map((r) => r.json.type)).toEqual(['notification.received', 'entitlements.updated']);
    for (const request of receiver.requests) {
      expect(() => new Webhook(SECRET).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    }
    expect(receiver.requests[1]!.json.data).toMatchObject({ userId, previous: [] });
  });
});
