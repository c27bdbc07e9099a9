import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { eventDeliveries, serviceState, userAnswers } from '../../src/db/schema.js';
import { DAY, MONTH, TEST_API_KEY } from '../helpers/constants.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, scenario } from '../notifications/support.js';
import { eventsDuring, recordedEvents } from './support.js';

// Answers that change with no word from Apple, noticed by the answer check; events past
// EVENTS_RETENTION pruned.

let now = Date.now();
const t = useTestApp({ clock: () => new Date(now) });
const db = () => t.database.handle.db;
const HOUR = 3_600_000;

async function answerOf(userId: string) {
  const response = await t.app.inject({ method: 'GET', url: `/entitlements/${userId}`, headers: { authorization: `Bearer ${TEST_API_KEY}` } });
  return (response.json() as { entitlements: Array<Record<string, unknown>> }).entitlements;
}

describe('answers that change with time alone', () => {
  it('records entitlements.updated when a period ends unheard, once, at the next check', async () => {
    now = Date.now();
    const userId = randomUUID();
    // A monthly period that ends in an hour, auto-renew off: expired once it ends.
    const start = now - MONTH + HOUR;
    const s = scenario(t.pki, { start });
    await deliver(
      t.app,
      s.sign({
        type: 'DID_CHANGE_RENEWAL_STATUS',
        subtype: 'AUTO_RENEW_DISABLED',
        signedDate: start + DAY,
        transaction: s.transaction(0, { appAccountToken: userId }),
        renewal: { autoRenewStatus: 0 },
      }),
    );
    const before = await answerOf(userId);
    expect(before).toMatchObject([{ status: 'active' }]);

    expect(await eventsDuring(db(), () => t.app.eventJobs.tick())).toEqual([]);

    now += 2 * HOUR;
    const events = await eventsDuring(db(), () => t.app.eventJobs.tick());
    expect(events.map((e) => [e.type, e.userId])).toEqual([['entitlements.updated', userId]]);
    expect(events[0]!.data.previous).toEqual(before);
    expect(events[0]!.data.entitlements).toEqual(await answerOf(userId));
    expect(events[0]!.data.entitlements).toMatchObject([{ status: 'expired', active: false }]);

    expect(await eventsDuring(db(), () => t.app.eventJobs.tick())).toEqual([]);
  });
});

describe('EVENTS_RETENTION', () => {
  it('deletes events older than the retention, but not one still being delivered', async () => {
    now = Date.now();
    const start = now - DAY;
    const s = scenario(t.pki, { start });
    await deliver(
      t.app,
      s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: s.transaction(0, { appAccountToken: randomUUID() }) }),
    );
    const old = await recordedEvents(db());
    expect(old.length).toBeGreaterThan(1);
    const pending = old[old.length - 1]!;
    await db().insert(eventDeliveries).values({ eventSeq: pending.seq, url: 'https://backend.example/hook', status: 'pending' });

    now += 29 * DAY;
    expect(await t.app.eventJobs.pruneOnce()).toBe(0);
    now += 2 * DAY;
    expect(await t.app.eventJobs.pruneOnce()).toBe(old.length - 1);
    expect((await recordedEvents(db())).map((e) => e.id)).toEqual([pending.id]);
  });

  it('is 30 days unless set, takes a duration of at least an hour, and names itself when malformed', () => {
    const minimal = { APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef', APPLE_ENVIRONMENTS: 'Sandbox' };
    expect(parseConfig(minimal).eventsRetentionMs).toBe(30 * DAY);
    expect(parseConfig({ ...minimal, EVENTS_RETENTION: '7d' }).eventsRetentionMs).toBe(7 * DAY);
    for (const bad of ['forever', '30m', '0', '-1d']) {
      let error: unknown;
      try {
        parseConfig({ ...minimal, EVENTS_RETENTION: bad });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe('EVENTS_RETENTION');
    }
  });
});

describe('users recorded before events existed', () => {
  it('gets a baseline answer without an event at the first check, and time changes are noticed from then on', async () => {
    now = Date.now();
    const userId = randomUUID();
    const start = now - MONTH + HOUR;
    const s = scenario(t.pki, { start });
    await deliver(
      t.app,
      s.sign({
        type: 'DID_CHANGE_RENEWAL_STATUS',
        subtype: 'AUTO_RENEW_DISABLED',
        signedDate: start + DAY,
        transaction: s.transaction(0, { appAccountToken: userId }),
        renewal: { autoRenewStatus: 0 },
      }),
    );
    // As if the purchase had been recorded by a version without events.
    await db().delete(userAnswers).where(eq(userAnswers.userId, userId));
    await db().delete(serviceState).where(eq(serviceState.key, 'events.answers_baseline'));
    const before = await answerOf(userId);

    expect(await eventsDuring(db(), () => t.app.eventJobs.tick())).toEqual([]);
    now += 2 * HOUR;
    const events = await eventsDuring(db(), () => t.app.eventJobs.tick());
    expect(events.map((e) => [e.type, e.userId])).toEqual([['entitlements.updated', userId]]);
    expect(events[0]!.data.previous).toEqual(before);
  });
});
