import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/events/event-types.js';
import { appendEvents } from '../../src/events/events.repository.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { authHeader, createTestApp, TEST_ADMIN_KEY, type TestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';
const admin = authHeader(TEST_ADMIN_KEY);

let receiver: WebhookReceiver;
let harness: TestApp;
let plain: TestApp;

async function record(app: TestApp, userId: string): Promise<RecordedEvent> {
  const [event] = await app.deps.database.db.transaction((tx) =>
    appendEvents(
      tx,
      [{ type: 'consumption.requested', userId, data: { userId, transactionId: '7', productId: 'p', deadline: new Date().toISOString() } }],
      new Date(),
    ),
  );
  return event!;
}

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  const metrics = createMetrics({ processMetrics: false });
  harness = await createTestApp({
    env: { EVENTS_WEBHOOK_URLS: `${receiver.url}?token=kept-out-of-listings`, EVENTS_WEBHOOK_SECRET: SECRET },
    overrides: { metrics, events: metrics.events },
  });
  plain = await createTestApp({ pki: harness.pki });
});

afterAll(async () => {
  await harness?.close();
  await plain?.close();
  await receiver?.close();
});

describe(`admin event delivery routes (${backendName})`, () => {
  it('answer 401 without a key and 403 with an app key', async () => {
    expect((await harness.app.inject({ method: 'GET', url: '/admin/events/deliveries?status=pending' })).statusCode).toBe(401);
    const forbidden = await harness.app.inject({ method: 'POST', url: '/admin/events/evt_x/redeliver', headers: authHeader() });
    expect(forbidden.statusCode).toBe(403);
  });

  it('list deliveries by status page by page, then redeliver one with the same id', async () => {
    const events = [await record(harness, 'u-1'), await record(harness, 'u-2'), await record(harness, 'u-3')];
    receiver.answers.push(500);
    await harness.app.eventDelivery!.tick();

    const pending = await harness.app.inject({ method: 'GET', url: '/admin/events/deliveries?status=pending', headers: admin });
    expect(pending.statusCode).toBe(200);
    expect(pending.json()).toMatchObject({
      deliveries: [
        {
          eventId: events[0]!.id,
          type: 'consumption.requested',
          userId: 'u-1',
          url: receiver.url,
          status: 'pending',
          attempts: 1,
          lastStatus: 500,
          lastError: 'HTTP 500',
        },
      ],
      nextCursor: null,
    });
    expect(pending.json().deliveries[0].nextAttemptAt).not.toBeNull();

    const first = await harness.app.inject({ method: 'GET', url: '/admin/events/deliveries?status=delivered&limit=1', headers: admin });
    expect(first.json().deliveries.map((d: { eventId: string }) => d.eventId)).toEqual([events[2]!.id]);
    const second = await harness.app.inject({
      method: 'GET',
      url: `/admin/events/deliveries?status=delivered&limit=1&cursor=${first.json().nextCursor}`,
      headers: admin,
    });
    expect(second.json().deliveries.map((d: { eventId: string }) => d.eventId)).toEqual([events[1]!.id]);
    expect(second.json().nextCursor).toBeNull();

    const redeliver = await harness.app.inject({ method: 'POST', url: `/admin/events/${events[1]!.id}/redeliver`, headers: admin });
    expect(redeliver.statusCode).toBe(200);
    expect(redeliver.json()).toEqual({ eventId: events[1]!.id, deliveries: 1 });
    const before = receiver.requests.length;
    await harness.app.eventDelivery!.tick();
    expect(receiver.requests.slice(before).map((r) => r.headers['webhook-id'])).toEqual([events[1]!.id]);
  });

  it('answer 404 EVENT_NOT_FOUND to a redelivery of an unknown event, and 400 to a cursor or status it does not know', async () => {
    const unknown = await harness.app.inject({ method: 'POST', url: '/admin/events/evt_nobody/redeliver', headers: admin });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('EVENT_NOT_FOUND');
    const cursor = await harness.app.inject({ method: 'GET', url: '/admin/events/deliveries?status=failed&cursor=bm9wZQ', headers: admin });
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().error.code).toBe('INVALID_CURSOR');
    const status = await harness.app.inject({ method: 'GET', url: '/admin/events/deliveries?status=lost', headers: admin });
    expect(status.statusCode).toBe(400);
  });

  it('answer 409 EVENTS_WEBHOOK_NOT_CONFIGURED to a redelivery without EVENTS_WEBHOOK_URLS', async () => {
    const event = await record(plain, 'u-1');
    expect(plain.app.eventDelivery).toBeNull();
    const answer = await plain.app.inject({ method: 'POST', url: `/admin/events/${event.id}/redeliver`, headers: admin });
    expect(answer.statusCode).toBe(409);
    expect(answer.json().error.code).toBe('EVENTS_WEBHOOK_NOT_CONFIGURED');
  });

  it('show in the OpenAPI document', async () => {
    const document = (await harness.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json();
    expect(document.paths['/admin/events/deliveries'].get).toBeDefined();
    expect(document.paths['/admin/events/{eventId}/redeliver'].post).toBeDefined();
  });

  it('count deliveries by outcome, time them per URL and report the oldest pending age in /metrics', async () => {
    const text = (await harness.app.inject({ method: 'GET', url: '/metrics' })).body;
    // A single-app installation's deliveries are the app `default`'s.
    expect(text).toMatch(new RegExp(`ase_event_deliveries_total\\{url="${receiver.url}",outcome="retry",app="default"\\} 1`));
    expect(text).toMatch(new RegExp(`ase_event_deliveries_total\\{url="${receiver.url}",outcome="delivered",app="default"\\} [1-9]`));
    expect(text).toContain(`ase_event_delivery_duration_seconds_count{url="${receiver.url}",app="default"}`);
    expect(text).toMatch(/ase_event_delivery_oldest_pending_seconds\{app="default"\} [0-9.e+-]+/);
    expect(text).not.toContain('kept-out-of-listings');
  });
});
