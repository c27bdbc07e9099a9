// Issue 19 (SPEC "Several apps"): three apps in one service, each app's data in its own
// schema (PostgreSQL) or database (PGlite). Same user ids and purchase ids in two apps stay
// apart; keys reach their own app only; a webhook goes to the app its signed bundle names.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events as eventsTable } from '../../src/db/schema.js';
import { TEST_ADMIN_KEY } from '../helpers/app.js';
import { createMultiAppTestApp, GLOBAL_API_KEY, type MultiAppTestApp, THREE_APPS } from '../helpers/apps.js';
import { backendName } from '../helpers/database.js';
import { signNotification } from '../helpers/pki.js';
import { countRows } from '../helpers/rows.js';
import { v1Body } from '../helpers/v1-bodies.js';

const [MAIN, KIDS, PHOTO] = THREE_APPS as [(typeof THREE_APPS)[number], (typeof THREE_APPS)[number], (typeof THREE_APPS)[number]];
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const ORIGINAL = '2000000000777001';

describe(`three apps in one service (${backendName})`, () => {
  let t: MultiAppTestApp;
  beforeAll(async () => {
    t = await createMultiAppTestApp({ overrides: { verifyReceipt: null } });
  }, 120_000);
  afterAll(async () => t?.close());

  const db = (appId: string) => t.databases.get(appId)!.database.db;

  /** A SUBSCRIBED notification of `bundleId` for `productId`, carrying `token`; the nested transaction's bundle is `nestedBundleId` (the same by default). */
  const notification = (bundleId: string, productId: string, token: string, nestedBundleId = bundleId) =>
    signNotification(t.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID: randomUUID(),
      bundleId,
      environment: 'Sandbox',
      signedDate: Date.now() - 60_000,
      transaction: {
        bundleId: nestedBundleId,
        transactionId: `${ORIGINAL}${productId.length}`,
        originalTransactionId: ORIGINAL,
        productId,
        appAccountToken: token,
        purchaseDate: Date.now() - 120_000,
        originalPurchaseDate: Date.now() - 120_000,
        expiresDate: Date.now() + 30 * 86_400_000,
      },
      renewalInfo: { originalTransactionId: ORIGINAL, productId, autoRenewProductId: productId },
    });

  const postV2 = (signedPayload: string) => t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } });
  const tokenOf = async (key: string, userId: string) => {
    const response = await t.app.inject({ method: 'GET', url: `/users/${userId}/app-account-token`, headers: bearer(key) });
    expect(response.statusCode).toBe(200);
    return response.json().appAccountToken as string;
  };
  const entitlementIds = async (key: string, userId: string, headers: Record<string, string> = {}) => {
    const response = await t.app.inject({ method: 'GET', url: `/entitlements/${userId}`, headers: { ...bearer(key), ...headers } });
    expect(response.statusCode).toBe(200);
    return (response.json().entitlements as Array<{ id?: string; entitlement?: string; productId?: string }>).map((each) => each.productId);
  };

  it("gives the same user id a different token in each app (each app's own namespace)", async () => {
    const main = await tokenOf(MAIN.apiKey, 'same-user');
    const kids = await tokenOf(KIDS.apiKey, 'same-user');
    const photo = await tokenOf(PHOTO.apiKey, 'same-user');
    expect(new Set([main, kids, photo]).size).toBe(3);
    // Stable within an app.
    expect(await tokenOf(MAIN.apiKey, 'same-user')).toBe(main);
  });

  it('keeps the same user id and the same originalTransactionId in two apps apart', async () => {
    const mainToken = await tokenOf(MAIN.apiKey, 'shared-user');
    const kidsToken = await tokenOf(KIDS.apiKey, 'shared-user');
    expect((await postV2(notification(MAIN.bundleId, 'com.example.main.pro', mainToken))).statusCode).toBe(200);
    expect((await postV2(notification(KIDS.bundleId, 'com.example.kids.plus', kidsToken))).statusCode).toBe(200);

    expect(await entitlementIds(MAIN.apiKey, 'shared-user')).toEqual(['com.example.main.pro']);
    expect(await entitlementIds(KIDS.apiKey, 'shared-user')).toEqual(['com.example.kids.plus']);
    expect(await entitlementIds(PHOTO.apiKey, 'shared-user')).toEqual([]);
    // A key of API_KEYS names the app it reads.
    expect(await entitlementIds(GLOBAL_API_KEY, 'shared-user', { 'x-app-id': KIDS.id })).toEqual(['com.example.kids.plus']);
    // Each app's schema (or database) holds its own purchase of ORIGINAL only.
    expect((await countRows(db(MAIN.id))).subscriptions).toBe(1);
    expect((await countRows(db(KIDS.id))).subscriptions).toBe(1);
    expect((await countRows(db(PHOTO.id))).subscriptions).toBe(0);
  });

  it("answers 403 APP_FORBIDDEN to an app key naming another app, and never shows that app's data", async () => {
    const response = await t.app.inject({ method: 'GET', url: '/entitlements/shared-user', headers: { ...bearer(MAIN.apiKey), 'x-app-id': KIDS.id } });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error: { code: 'APP_FORBIDDEN' } });
  });

  it('answers 400 APP_REQUIRED to a key of API_KEYS without X-App-Id, and to an admin key where a route needs an app', async () => {
    const app = await t.app.inject({ method: 'GET', url: '/entitlements/shared-user', headers: bearer(GLOBAL_API_KEY) });
    expect(app.statusCode).toBe(400);
    expect(app.json()).toMatchObject({ error: { code: 'APP_REQUIRED' } });
    const admin = await t.app.inject({ method: 'GET', url: '/admin/users/shared-user', headers: bearer(TEST_ADMIN_KEY) });
    expect(admin.statusCode).toBe(400);
    expect(admin.json()).toMatchObject({ error: { code: 'APP_REQUIRED' } });
    const named = await t.app.inject({ method: 'GET', url: '/admin/users/shared-user', headers: { ...bearer(TEST_ADMIN_KEY), 'x-app-id': KIDS.id } });
    expect(named.statusCode).toBe(200);
    expect(JSON.stringify(named.json())).toContain('com.example.kids.plus');
    expect(JSON.stringify(named.json())).not.toContain('com.example.main.pro');
  });

  it('refuses a notification of one app whose nested transaction names another: 400, nothing written in any app', async () => {
    const before = await Promise.all(THREE_APPS.map((app) => countRows(db(app.id))));
    const token = await tokenOf(MAIN.apiKey, 'crossed-user');
    const response = await postV2(notification(MAIN.bundleId, 'com.example.main.crossed', token, KIDS.bundleId));
    expect(response.statusCode).toBe(400);
    // The verifier's code for nested data that disagrees with its notification.
    expect(response.json()).toMatchObject({ error: { code: 'NESTED_MISMATCH' } });
    expect(await Promise.all(THREE_APPS.map((app) => countRows(db(app.id))))).toEqual(before);
  });

  it('refuses a notification for a bundle no app has with 400 WRONG_BUNDLE_ID, nothing written', async () => {
    const before = await Promise.all(THREE_APPS.map((app) => countRows(db(app.id))));
    const response = await postV2(notification('com.example.unknown', 'com.example.unknown.pro', randomUUID()));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'WRONG_BUNDLE_ID' } });
    expect(await Promise.all(THREE_APPS.map((app) => countRows(db(app.id))))).toEqual(before);
  });

  it("takes a V1 notification for the app of its bid, with that app's shared secret only", async () => {
    const post = (payload: object) => t.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload });
    const before = await countRows(db(MAIN.id));
    const kidsBefore = await countRows(db(KIDS.id));
    const wrongSecret = await post(v1Body('DID_RENEW', { bid: KIDS.bundleId, password: MAIN.sharedSecret! }));
    expect(wrongSecret.statusCode).toBe(401);
    const kids = await post(v1Body('DID_RENEW', { bid: KIDS.bundleId, password: KIDS.sharedSecret! }));
    expect(kids.statusCode).toBe(200);
    expect((await countRows(db(KIDS.id))).notifications).toBe(kidsBefore.notifications + 1);
    expect(await countRows(db(MAIN.id))).toEqual(before);
    const unknown = await post(v1Body('DID_RENEW', { bid: 'com.example.unknown', password: KIDS.sharedSecret! }));
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ error: { code: 'WRONG_BUNDLE_ID' } });
  });

  it('names the app in every event envelope, and serves each app its own feed', async () => {
    const kidsEvents = await db(KIDS.id).select().from(eventsTable).orderBy(eventsTable.seq);
    expect(kidsEvents.length).toBeGreaterThan(0);
    for (const event of kidsEvents) expect(JSON.parse(event.body)).toMatchObject({ app: KIDS.id });
    const feed = await t.app.inject({ method: 'GET', url: '/events?limit=1000', headers: bearer(KIDS.apiKey) });
    expect(feed.statusCode).toBe(200);
    expect((feed.json().events as Array<{ id: string }>).map((event) => event.id)).toEqual(kidsEvents.map((event) => event.id));
    for (const event of feed.json().events as Array<{ app: string }>) expect(event.app).toBe(KIDS.id);
    const photo = await t.app.inject({ method: 'GET', url: '/events?limit=1000', headers: bearer(PHOTO.apiKey) });
    const photoEvents = await db(PHOTO.id).select().from(eventsTable);
    expect(photo.json().events).toHaveLength(photoEvents.length);
    for (const event of photo.json().events as Array<{ data: unknown }>) expect(JSON.stringify(event)).not.toContain('com.example.kids');
  });
});
