import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events } from '../../src/db/schema.js';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { authHeader, TEST_ADMIN_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { DAY, TEST_MONTHLY_PRODUCT_ID } from '../helpers/constants.js';
import { backendName, testDatabaseUrl } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { post, scenario } from '../notifications/support.js';
import { entitlementsOf, type HeardInvalidations, listenToAnswerInputs, until } from './cache-support.js';

// Every write path that can change a user's answer drops that user's cached inputs: the
// next read answers what the database holds (checked against an app over the same
// database without a cache), and on PostgreSQL the writing transaction NOTIFYs the user
// to every replica (heard here by a LISTEN of the test's own).

const catalog = parseEntitlementsFile(
  JSON.stringify({ entitlements: { pro: [TEST_MONTHLY_PRODUCT_ID] }, appPurchase: { entitlement: 'pro', beforeVersion: '1.10' } }),
);
const t = useTestApp({ overrides: { entitlementMap: catalog } });
const reference = useTestApp(() => ({ database: t.database, pki: t.pki, env: { ENTITLEMENTS_CACHE_SIZE: '0' }, overrides: { entitlementMap: catalog } }));

let heard: HeardInvalidations | null = null;
beforeAll(async () => {
  if (testDatabaseUrl) heard = await listenToAnswerInputs(t.database.url!);
});
afterAll(async () => heard?.close());

const admin = authHeader(TEST_ADMIN_KEY);

async function inject(options: InjectOptions) {
  const response = await t.app.inject(options);
  expect(response.statusCode, response.body).toBe(200);
  return response;
}

/** Reads each user twice (the second read must come from the cache), writes, then checks each answer is the database's. */
async function expectFreshAfter(userIds: string[], write: () => Promise<unknown>): Promise<void> {
  const before = new Map<string, unknown[]>();
  for (const userId of userIds) {
    await entitlementsOf(t, userId);
    const hits = t.app.entitlementsCache.stats().hits;
    before.set(userId, await entitlementsOf(t, userId));
    expect(t.app.entitlementsCache.stats().hits, 'the second read is served from the cache').toBe(hits + 1);
  }
  heard?.clear();
  await write();
  for (const userId of userIds) {
    const fresh = await entitlementsOf(reference, userId);
    expect(fresh, 'the write changed this user’s answer').not.toEqual(before.get(userId));
    expect(await entitlementsOf(t, userId)).toEqual(fresh);
  }
  if (heard !== null) await until(() => userIds.every((userId) => heard!.users.has(userId)), 'NOTIFY naming every user written');
}

function newScenario() {
  return scenario(t.pki, { start: Date.now() - DAY });
}

const link = (userId: string, signedTransaction: string) =>
  inject({ method: 'POST', url: `/users/${encodeURIComponent(userId)}/transactions`, headers: authHeader(), payload: { signedTransaction } });

describe(`the entitlement cache after each write path (${backendName})`, () => {
  it('a V2 notification of a new purchase carrying the user’s token', async () => {
    const userId = randomUUID();
    const s = newScenario();
    await expectFreshAfter([userId], async () => {
      const notification = s.sign({
        type: 'SUBSCRIBED',
        subtype: 'INITIAL_BUY',
        signedDate: Date.now() - DAY,
        transaction: s.transaction(0, { appAccountToken: userId }),
      });
      expect((await post(t.app, notification)).statusCode).toBe(200);
    });
  });

  it('a V2 notification about a purchase the user already owns (a refund)', async () => {
    const userId = randomUUID();
    const s = newScenario();
    await link(userId, t.pki.sign(s.transaction(0)));
    await expectFreshAfter([userId], async () => {
      const refund = s.sign({
        type: 'REFUND',
        signedDate: Date.now(),
        transaction: s.transaction(0, { revocationDate: Date.now() - 1_000, revocationReason: 0 }),
      });
      expect((await post(t.app, refund)).statusCode).toBe(200);
    });
  });

  it('the app backend linking a purchase (POST /users/:userId/transactions)', async () => {
    const userId = `user-${randomUUID()}`;
    const s = newScenario();
    await expectFreshAfter([userId], () => link(userId, t.pki.sign(s.transaction(0))));
  });

  it('a purchase moving to another user: both users', async () => {
    const first = `user-${randomUUID()}`;
    const second = `user-${randomUUID()}`;
    const signed = t.pki.sign(newScenario().transaction(0));
    await link(first, signed);
    await expectFreshAfter([first, second], () => link(second, signed));
  });

  it('an operator’s grant, and its end', async () => {
    const userId = `user-${randomUUID()}`;
    let grantId = '';
    await expectFreshAfter([userId], async () => {
      const response = await inject({
        method: 'POST',
        url: `/admin/users/${userId}/grants`,
        headers: admin,
        payload: { entitlement: 'pro', duration: 'P1M', reason: 'test' },
      });
      grantId = (response.json() as { grantId: string }).grantId;
    });
    await expectFreshAfter([userId], () => inject({ method: 'DELETE', url: `/admin/users/${userId}/grants/${grantId}`, headers: admin }));
  });

  it('an AppTransaction (POST /users/:userId/app-transaction)', async () => {
    const userId = `user-${randomUUID()}`;
    const signedAppTransaction = t.pki.sign({
      receiptType: 'Sandbox',
      environment: 'Sandbox',
      appAppleId: TEST_APP_APPLE_ID,
      bundleId: TEST_BUNDLE_ID,
      applicationVersion: '3.2',
      originalApplicationVersion: '1.9',
      originalPurchaseDate: Date.now() - 100 * DAY,
      receiptCreationDate: Date.now() - DAY,
      appTransactionId: '704289572311573921',
      originalPlatform: 'iOS',
      signedDate: Date.now() - DAY,
    });
    await expectFreshAfter([userId], () =>
      inject({ method: 'POST', url: `/users/${userId}/app-transaction`, headers: authHeader(), payload: { signedAppTransaction } }),
    );
  });

  it('a write that leaves the answer equal, so records no event (an AppTransaction granting nothing): still dropped, and still notified', async () => {
    const userId = `user-${randomUUID()}`;
    const signedAppTransaction = t.pki.sign({
      receiptType: 'Sandbox',
      environment: 'Sandbox',
      appAppleId: TEST_APP_APPLE_ID,
      bundleId: TEST_BUNDLE_ID,
      applicationVersion: '3.2',
      // Bought at 1.10 or later: the catalog's appPurchase entitlement does not apply.
      originalApplicationVersion: '2.0',
      originalPurchaseDate: Date.now() - 100 * DAY,
      receiptCreationDate: Date.now() - DAY,
      appTransactionId: '704289572311573922',
      originalPlatform: 'iOS',
      signedDate: Date.now() - DAY,
    });
    expect(await entitlementsOf(t, userId)).toEqual([]);
    expect(await entitlementsOf(t, userId)).toEqual([]);
    const before = t.app.entitlementsCache.stats();
    heard?.clear();
    // The route answers the user's entitlements after its commit: read from the database, since the entry was dropped.
    await inject({ method: 'POST', url: `/users/${userId}/app-transaction`, headers: authHeader(), payload: { signedAppTransaction } });
    const after = t.app.entitlementsCache.stats();
    expect(after.hits, 'the answer after the write is not served from memory').toBe(before.hits);
    expect(after.misses).toBe(before.misses + 1);
    expect(await t.database.handle.db.select().from(events).where(eq(events.userId, userId)), 'no event: the answer did not change').toEqual([]);
    expect(await entitlementsOf(t, userId)).toEqual(await entitlementsOf(reference, userId));
    if (heard !== null) await until(() => heard!.users.has(userId), 'NOTIFY naming the user');
  });
});
