import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DAY, MONTH, TEST_API_KEY } from '../helpers/constants.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, post, scenario } from '../notifications/support.js';
import { eventsDuring, recordedEvents } from './support.js';

// Events recorded with the change they announce, on the real database (PGlite or
// PostgreSQL): each type, none for a change that did not happen or did not commit.

const t = useTestApp();
const db = () => t.database.handle.db;

/** A monthly subscription bought yesterday by a user known by its appAccountToken. */
function activePurchase() {
  const userId = randomUUID();
  const start = Date.now() - DAY;
  const s = scenario(t.pki, { start });
  const transaction = (period: number, fields: Record<string, unknown> = {}) => s.transaction(period, { appAccountToken: userId, ...fields });
  return { s, userId, start, transaction };
}

async function entitlementsOf(userId: string) {
  const response = await t.app.inject({ method: 'GET', url: `/entitlements/${userId}`, headers: { authorization: `Bearer ${TEST_API_KEY}` } });
  return (response.json() as { entitlements: unknown[] }).entitlements;
}

describe('events recorded with notifications', () => {
  it('records notification.received and entitlements.updated for a first purchase, in that order', async () => {
    const { s, userId, start, transaction } = activePurchase();
    const uuid = randomUUID();
    const events = await eventsDuring(db(), () =>
      deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', uuid, signedDate: start, transaction: transaction(0) })),
    );
    expect(events.map((e) => e.type)).toEqual(['notification.received', 'entitlements.updated']);
    const [received, updated] = events;
    expect(received!.id).toMatch(/^evt_[0-9a-f-]{36}$/);
    expect(received!.data).toEqual({
      notificationUUID: uuid,
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      environment: 'Sandbox',
      signedDate: new Date(start).toISOString(),
      userId,
      transactionId: s.originalTransactionId,
      originalTransactionId: s.originalTransactionId,
      productId: s.productId,
    });
    expect(updated!.userId).toBe(userId);
    expect(updated!.data.previous).toEqual([]);
    expect(updated!.data.entitlements).toEqual(await entitlementsOf(userId));
    expect(updated!.data.entitlements).toMatchObject([{ status: 'active', active: true }]);
  });

  it('records entitlements.updated with the previous answer when a refund ends access', async () => {
    const { s, userId, start, transaction } = activePurchase();
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: transaction(0) }));
    const before = await entitlementsOf(userId);
    const events = await eventsDuring(db(), () =>
      deliver(
        t.app,
        s.sign({
          type: 'REFUND',
          signedDate: start + 1000,
          transaction: transaction(0, { signedDate: start + 1000, revocationDate: start + 1000, revocationReason: 0 }),
        }),
      ),
    );
    const updated = events.filter((e) => e.type === 'entitlements.updated');
    expect(updated).toHaveLength(1);
    expect(updated[0]!.data.previous).toEqual(before);
    expect(updated[0]!.data.entitlements).toMatchObject([{ status: 'revoked', active: false }]);
  });

  it('records nothing for a duplicate notification', async () => {
    const { s, start, transaction } = activePurchase();
    const signed = s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: transaction(0) });
    await deliver(t.app, signed);
    const events = await eventsDuring(db(), async () => expect(await deliver(t.app, signed)).toBe('duplicate'));
    expect(events).toEqual([]);
  });

  it('records no entitlements.updated for renewal info that changes nothing the answer shows', async () => {
    const { s, start, transaction } = activePurchase();
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: transaction(0) }));
    const events = await eventsDuring(db(), () =>
      deliver(t.app, s.sign({ type: 'DID_CHANGE_RENEWAL_PREF', signedDate: start + 2000, period: null, renewal: { eligibleWinBackOfferIds: ['wb-1'] } })),
    );
    expect(events.map((e) => e.type)).toEqual(['notification.received']);
  });

  it('records consumption.requested with a deadline 12 hours after Apple asked', async () => {
    const { s, userId, start, transaction } = activePurchase();
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: transaction(0) }));
    const asked = start + 5000;
    const events = await eventsDuring(db(), () => deliver(t.app, s.sign({ type: 'CONSUMPTION_REQUEST', signedDate: asked, transaction: transaction(0) })));
    expect(events.map((e) => e.type)).toEqual(['notification.received', 'consumption.requested']);
    expect(events[1]!.data).toEqual({
      userId,
      transactionId: s.originalTransactionId,
      productId: s.productId,
      deadline: new Date(asked + 12 * 60 * 60 * 1000).toISOString(),
    });
  });

  it('records notification.received with a null user for a purchase nobody is linked to', async () => {
    const start = Date.now() - DAY;
    const s = scenario(t.pki, { start });
    const events = await eventsDuring(db(), () => deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, period: 0 })));
    expect(events.map((e) => e.type)).toEqual(['notification.received']);
    expect(events[0]!.data.userId).toBeNull();
  });

  it('records nothing for a notification that is refused', async () => {
    const { s, start, transaction } = activePurchase();
    const events = await eventsDuring(db(), async () => {
      const response = await post(t.app, s.sign({ type: 'SUBSCRIBED', signedDate: start, transaction: transaction(0), bundleId: 'com.other.app' }));
      expect(response.statusCode).toBe(400);
    });
    expect(events).toEqual([]);
  });

  it('gives every event its own id and increasing sequence numbers', async () => {
    const { s, start, transaction } = activePurchase();
    await deliver(t.app, s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: transaction(0) }));
    const all = await recordedEvents(db());
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
    void MONTH;
  });
});
