import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { grants } from '../../src/db/schema.js';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { at, days, getEntitlements, MONTHLY, manualClock, postTransaction, transactionPayload } from '../entitlements/app-backend-fixtures.js';
import { eventsDuring } from '../events/support.js';
import { authHeader, TEST_ADMIN_KEY } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

const admin = authHeader(TEST_ADMIN_KEY);
const ADMIN_KEY_ID = createHash('sha256').update(TEST_ADMIN_KEY).digest('hex').slice(0, 12);

describe(`POST and DELETE /admin/users/:userId/grants (${backendName})`, () => {
  const time = manualClock('2026-12-01T10:00:00Z');
  const catalog = parseEntitlementsFile(JSON.stringify({ entitlements: { pro: [MONTHLY] } }));
  const t = useTestApp({ clock: time.clock, overrides: { entitlementMap: catalog } });
  const db = () => t.database.handle.db;

  const give = (userId: string, payload: Record<string, unknown>, headers: Record<string, string> = admin) =>
    t.app.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(userId)}/grants`, headers, payload });
  const end = (userId: string, grantId: string, query = '') =>
    t.app.inject({ method: 'DELETE', url: `/admin/users/${encodeURIComponent(userId)}/grants/${grantId}${query}`, headers: admin });
  const grantRow = async (grantId: string) => (await db().select().from(grants).where(eq(grants.id, grantId)))[0];

  it('gives an entitlement that GET /entitlements lists with source "grant", every field present and the Apple ones null', async () => {
    time.set('2026-12-01T10:00:00Z');
    const response = await give('g-user-1', { entitlement: 'pro', duration: 'P1M', reason: 'support ticket 1' });

    expect(response.statusCode).toBe(200);
    const { grantId, expiresDate } = response.json();
    expect(grantId).toMatch(/^grt_/);
    expect(expiresDate).toBe('2027-01-01T10:00:00.000Z');
    const answer = (await getEntitlements(t, 'g-user-1')).json();
    expect(answer.entitlements).toEqual([
      {
        entitlement: 'pro',
        active: true,
        status: 'active',
        productId: null,
        productType: null,
        environment: null,
        originalTransactionId: null,
        transactionId: null,
        purchaseDate: '2026-12-01T10:00:00.000Z',
        originalPurchaseDate: '2026-12-01T10:00:00.000Z',
        expiresDate: '2027-01-01T10:00:00.000Z',
        gracePeriodExpiresDate: null,
        willRenew: null,
        autoRenewProductId: null,
        ownershipType: null,
        revocationDate: null,
        revocationReason: null,
        revocationType: null,
        revocationPercentage: null,
        periodType: null,
        offerIdentifier: null,
        price: null,
        currency: null,
        renewalPrice: null,
        renewalCurrency: null,
        renewalDate: null,
        expirationIntent: null,
        priceIncreaseStatus: null,
        source: 'grant',
        updatedAt: '2026-12-01T10:00:00.000Z',
      },
    ]);
  });

  it('is active until its end and expired from then on, evaluated at read time', async () => {
    time.set('2026-12-01T10:00:00Z');
    const { grantId } = (await give('g-user-2', { entitlement: 'beta', expiresDate: '2026-12-02T10:00:00Z', reason: 'beta tester' })).json();
    expect(grantId).toBeTypeOf('string');

    time.set('2026-12-02T09:59:59Z');
    expect((await getEntitlements(t, 'g-user-2')).json().entitlements).toMatchObject([{ entitlement: 'beta', status: 'active', active: true }]);
    time.set('2026-12-02T10:00:00Z');
    expect((await getEntitlements(t, 'g-user-2')).json().entitlements).toMatchObject([
      { entitlement: 'beta', status: 'expired', active: false, expiresDate: '2026-12-02T10:00:00.000Z', source: 'grant' },
    ]);
  });

  it('records the admin key id (never the key) and the reason, and DELETE ends the grant now, idempotently', async () => {
    time.set('2026-12-01T10:00:00Z');
    const { grantId } = (await give('g-user-3', { entitlement: 'pro', duration: 'P1Y', reason: 'goodwill' })).json();
    expect(await grantRow(grantId)).toMatchObject({ userId: 'g-user-3', reason: 'goodwill', grantedBy: ADMIN_KEY_ID, endedAt: null });
    expect(JSON.stringify(await grantRow(grantId))).not.toContain(TEST_ADMIN_KEY);

    time.set('2026-12-05T00:00:00Z');
    const ended = await end('g-user-3', grantId, '?reason=granted%20by%20mistake');
    expect(ended.statusCode).toBe(200);
    expect(ended.json()).toEqual({ grantId, expiresDate: '2026-12-05T00:00:00.000Z', alreadyEnded: false });
    expect(await grantRow(grantId)).toMatchObject({ endedAt: new Date('2026-12-05T00:00:00Z'), endedBy: ADMIN_KEY_ID, endReason: 'granted by mistake' });
    expect((await getEntitlements(t, 'g-user-3')).json().entitlements).toMatchObject([
      { status: 'expired', active: false, expiresDate: '2026-12-05T00:00:00.000Z', source: 'grant' },
    ]);

    time.set('2026-12-06T00:00:00Z');
    const again = await end('g-user-3', grantId);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ grantId, expiresDate: '2026-12-05T00:00:00.000Z', alreadyEnded: true });
    expect((await grantRow(grantId))?.endedAt).toEqual(new Date('2026-12-05T00:00:00Z'));
  });

  it("shows the user's grants, running and ended, with who gave and ended them, in GET /admin/users/:userId", async () => {
    time.set('2026-12-01T10:00:00Z');
    const first = (await give('g-view', { entitlement: 'pro', duration: 'P1M', reason: 'ticket 4821' })).json();
    time.set('2026-12-02T10:00:00Z');
    const second = (await give('g-view', { entitlement: 'beta', expiresDate: '2027-01-01T00:00:00Z', reason: 'beta tester' })).json();
    await end('g-view', first.grantId, '?reason=refunded%20instead');

    const view = await t.app.inject({ method: 'GET', url: '/admin/users/g-view', headers: admin });
    expect(view.statusCode).toBe(200);
    expect(view.json().grants).toEqual([
      {
        grantId: second.grantId,
        entitlement: 'beta',
        startsAt: '2026-12-02T10:00:00.000Z',
        expiresDate: '2027-01-01T00:00:00.000Z',
        reason: 'beta tester',
        grantedBy: ADMIN_KEY_ID,
        endedAt: null,
        endedBy: null,
        endReason: null,
      },
      {
        grantId: first.grantId,
        entitlement: 'pro',
        startsAt: '2026-12-01T10:00:00.000Z',
        expiresDate: '2027-01-01T10:00:00.000Z',
        reason: 'ticket 4821',
        grantedBy: ADMIN_KEY_ID,
        endedAt: '2026-12-02T10:00:00.000Z',
        endedBy: ADMIN_KEY_ID,
        endReason: 'refunded instead',
      },
    ]);
    expect(view.json().appTransaction).toBeNull();
  });

  it("answers 404 GRANT_NOT_FOUND for an unknown grant or another user's", async () => {
    time.set('2026-12-01T10:00:00Z');
    const { grantId } = (await give('g-user-4', { entitlement: 'pro', duration: 'P7D', reason: 'x' })).json();
    for (const response of [await end('g-user-4', 'grt_unknown'), await end('g-someone-else', grantId)]) {
      expect(response.statusCode).toBe(404);
      expect(response.json().error.code).toBe('GRANT_NOT_FOUND');
    }
    expect((await grantRow(grantId))?.endedAt).toBeNull();
  });

  it('refuses bad input with 400 naming the field, and writes nothing', async () => {
    time.set('2026-12-01T10:00:00Z');
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ entitlement: 'pro', expiresDate: '2026-11-30T00:00:00Z', reason: 'r' }, 'DATE_IN_PAST', 'expiresDate'],
      [{ entitlement: 'pro', expiresDate: 'next tuesday', reason: 'r' }, 'INVALID_DATE', 'expiresDate'],
      [{ entitlement: 'pro', duration: '1 month', reason: 'r' }, 'INVALID_DURATION', 'duration'],
      [{ entitlement: 'pro', duration: 'P0D', reason: 'r' }, 'INVALID_DURATION', 'duration'],
      [{ entitlement: 'pro', duration: 'P1M', expiresDate: '2027-01-01T00:00:00Z', reason: 'r' }, 'VALIDATION_ERROR', 'duration'],
      [{ entitlement: 'pro', reason: 'r' }, 'VALIDATION_ERROR', 'expiresDate'],
      [{ entitlement: 'pro', duration: 'P1M' }, 'VALIDATION_ERROR', 'reason'],
      [{ entitlement: 'pro', duration: 'P1M', reason: '   ' }, 'VALIDATION_ERROR', 'reason'],
      [{ duration: 'P1M', reason: 'r' }, 'VALIDATION_ERROR', 'entitlement'],
      [{ entitlement: 'pro', duration: 'P1M', reason: 'r', productId: 'x' }, 'VALIDATION_ERROR', 'productId'],
    ];
    for (const [payload, code, field] of cases) {
      const response = await give('g-bad', payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().error.code, JSON.stringify(payload)).toBe(code);
      expect(response.json().error.message, JSON.stringify(payload)).toContain(field);
    }
    expect(await db().select().from(grants).where(eq(grants.userId, 'g-bad'))).toEqual([]);
  });

  it('answers 401 without a key and 403 with an app key', async () => {
    const payload = { entitlement: 'pro', duration: 'P1M', reason: 'r' };
    expect((await give('g-auth', payload, {})).statusCode).toBe(401);
    const forbidden = await give('g-auth', payload, authHeader());
    expect(forbidden.statusCode).toBe(403);
    expect((await t.app.inject({ method: 'DELETE', url: '/admin/users/g-auth/grants/grt_x', headers: authHeader() })).statusCode).toBe(403);
    expect(await db().select().from(grants).where(eq(grants.userId, 'g-auth'))).toEqual([]);
  });

  it('shows an active App Store purchase over a grant, and the grant once the purchase gives no access', async () => {
    time.set('2026-11-10T00:00:00Z');
    const bought = await postTransaction(t, 'g-both', transactionPayload({ transactionId: '9100000000000001', purchaseDate: at('2026-11-01T10:00:00Z') }));
    expect(bought.statusCode).toBe(200);
    expect((await give('g-both', { entitlement: 'pro', expiresDate: '2027-01-01T00:00:00Z', reason: 'outage' })).statusCode).toBe(200);
    expect((await getEntitlements(t, 'g-both')).json().entitlements).toMatchObject([{ entitlement: 'pro', source: 'app_store', productId: MONTHLY }]);

    // The purchase's period (30 days from 2026-11-01T10:00) ends: the grant still gives access.
    time.set(new Date(at('2026-11-01T10:00:00Z') + days(31)).toISOString());
    expect((await getEntitlements(t, 'g-both')).json().entitlements).toMatchObject([{ entitlement: 'pro', source: 'grant', status: 'active' }]);

    // Both ended: the purchase shows (it says more).
    time.set('2027-01-02T00:00:00Z');
    expect((await getEntitlements(t, 'g-both')).json().entitlements).toMatchObject([{ entitlement: 'pro', source: 'app_store', status: 'expired' }]);
  });

  it('records entitlements.updated when a grant is given, when it is ended, and when it runs out (the answer check)', async () => {
    time.set('2026-12-01T10:00:00Z');
    let grantId = '';
    const given = await eventsDuring(db(), async () => {
      grantId = (await give('g-events', { entitlement: 'pro', duration: 'PT1H', reason: 'r' })).json().grantId;
    });
    expect(given.map((e) => [e.type, e.userId])).toEqual([['entitlements.updated', 'g-events']]);
    expect(given[0]!.data).toMatchObject({ previous: [], entitlements: [{ entitlement: 'pro', source: 'grant', status: 'active' }] });

    // Runs out with no request: the answer check notices at its next tick (other tests' users may change too).
    const mine = (events: Awaited<ReturnType<typeof eventsDuring>>) => events.filter((e) => e.userId === 'g-events');
    time.set('2026-12-01T10:30:00Z');
    expect(mine(await eventsDuring(db(), () => t.app.eventJobs.tick()))).toEqual([]);
    time.set('2026-12-01T11:00:01Z');
    const ran = mine(await eventsDuring(db(), () => t.app.eventJobs.tick()));
    expect(ran.map((e) => [e.type, e.userId])).toEqual([['entitlements.updated', 'g-events']]);
    expect(ran[0]!.data).toMatchObject({ entitlements: [{ status: 'expired', active: false }], previous: [{ status: 'active' }] });
    // Ending it now changes nothing: no event.
    expect(await eventsDuring(db(), () => end('g-events', grantId))).toEqual([]);

    const second = (await give('g-events', { entitlement: 'pro', duration: 'P1D', reason: 'again' })).json().grantId as string;
    time.set('2026-12-01T12:00:00Z');
    const ended = await eventsDuring(db(), () => end('g-events', second));
    expect(ended.map((e) => [e.type, e.userId])).toEqual([['entitlements.updated', 'g-events']]);
    expect(ended[0]!.data).toMatchObject({ entitlements: [{ status: 'expired', expiresDate: '2026-12-01T12:00:00.000Z' }], previous: [{ status: 'active' }] });
  });
});
