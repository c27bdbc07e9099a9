// Issue 19: "One app's key can never read or change another app's data — test every route
// for it." Every app-backend and admin route of the API reference is called with app B's
// key (admin: an admin key naming app B) about app A's user, purchase and grant: nothing of
// A is in any answer, and not one row of A's data changes. A route added to the API without
// an entry here fails the test.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { TEST_ADMIN_KEY } from '../helpers/app.js';
import { createMultiAppTestApp, type MultiAppTestApp, THREE_APPS } from '../helpers/apps.js';
import { backendName } from '../helpers/database.js';
import { signNotification } from '../helpers/pki.js';
import { queryRows } from '../helpers/rows.js';

const [A, B] = THREE_APPS as [(typeof THREE_APPS)[number], (typeof THREE_APPS)[number]];
const USER = 'victim-user';
const ORIGINAL = '2000000000888001';
const SECRET_PRODUCT = 'com.example.main.secret-product';
const GRANTED = 'secret-granted-entitlement';

interface Call {
  url: string;
  body?: unknown;
}

/** Each route, with app A's ids in its path, query and body. */
function calls(grantId: string, eventId: string, signedTransaction: string): Record<string, Call> {
  return {
    'GET /entitlements/{userId}': { url: `/entitlements/${USER}` },
    'GET /users/{userId}/app-account-token': { url: `/users/${USER}/app-account-token` },
    'POST /users/{userId}/transactions': { url: `/users/${USER}/transactions`, body: { signedTransaction } },
    'GET /users/{userId}/transactions': { url: `/users/${USER}/transactions` },
    'POST /users/{userId}/restore': { url: `/users/${USER}/restore`, body: { transactionId: ORIGINAL } },
    'POST /users/{userId}/app-transaction': { url: `/users/${USER}/app-transaction`, body: { signedAppTransaction: signedTransaction } },
    'POST /users/{userId}/receipts': { url: `/users/${USER}/receipts`, body: { receipt: Buffer.from('not a receipt').toString('base64') } },
    'PUT /transactions/{transactionId}/consumption': {
      url: `/transactions/${ORIGINAL}/consumption`,
      body: { customerConsented: true, sampleContentProvided: false, deliveryStatus: 'DELIVERED' },
    },
    'GET /events': { url: '/events?limit=100' },
    'POST /offers/promotional-signature': {
      url: '/offers/promotional-signature',
      body: { productId: SECRET_PRODUCT, offerId: 'offer', applicationUsername: USER },
    },
    'POST /offers/signed': { url: '/offers/signed', body: { kind: 'promotional', productId: SECRET_PRODUCT, offerId: 'offer' } },
    'GET /admin/apps': { url: '/admin/apps' },
    'GET /admin/notifications/recover/runs': { url: '/admin/notifications/recover/runs' },
    'POST /admin/notifications/recover': { url: '/admin/notifications/recover', body: { startDate: new Date(Date.now() - 3_600_000).toISOString() } },
    'POST /admin/notifications/test': { url: '/admin/notifications/test' },
    'GET /admin/notifications/test/{token}': { url: '/admin/notifications/test/some-token' },
    'GET /admin/orders/{orderId}': { url: '/admin/orders/MQ1234567' },
    'GET /admin/events/deliveries': { url: '/admin/events/deliveries' },
    'POST /admin/events/{eventId}/redeliver': { url: `/admin/events/${eventId}/redeliver` },
    'POST /admin/subscriptions/{originalTransactionId}/extend': { url: `/admin/subscriptions/${ORIGINAL}/extend`, body: { days: 7, reason: 3 } },
    'POST /admin/subscriptions/extend': { url: '/admin/subscriptions/extend', body: { productId: SECRET_PRODUCT, days: 7, reason: 3 } },
    'GET /admin/subscriptions/extend/{productId}/{requestId}': { url: `/admin/subscriptions/extend/${SECRET_PRODUCT}/${randomUUID()}` },
    'GET /admin/consumption': { url: '/admin/consumption' },
    'POST /admin/users/{userId}/grants': { url: `/admin/users/${USER}/grants`, body: { entitlement: 'b-grant', duration: 'P1M', reason: 'support' } },
    'DELETE /admin/users/{userId}/grants/{grantId}': { url: `/admin/users/${USER}/grants/${grantId}` },
    'POST /admin/users/{userId}/refresh': { url: `/admin/users/${USER}/refresh` },
    'GET /admin/notifications': { url: '/admin/notifications' },
    'GET /admin/users/{userId}': { url: `/admin/users/${USER}` },
    'GET /admin/lookup': { url: `/admin/lookup?originalTransactionId=${ORIGINAL}` },
    'GET /admin/analytics/summary': { url: '/admin/analytics/summary' },
    'GET /admin/analytics/timeseries': {
      url: `/admin/analytics/timeseries?metric=new_subscriptions&interval=day&from=${new Date(Date.now() - 5 * 86_400_000).toISOString()}&to=${new Date(Date.now() + 86_400_000).toISOString()}`,
    },
  };
}

/** Routes that act for no app's data: probes, metrics, and the webhooks (chosen by the signed bundle, tested in several-apps.test.ts). */
const NOT_PER_KEY = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics', 'POST /webhooks/apple/v1', 'POST /webhooks/apple/v2']);

/** Every row of every table of a database, as text: any change to any row changes it. */
async function everyRow(db: Database): Promise<Record<string, string>> {
  const tables = await queryRows<{ name: string }>(db, sql`select tablename as name from pg_tables where schemaname = current_schema() order by tablename`);
  const rows: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await queryRows<{ content: string | null }>(db, sql.raw(`select string_agg(t::text, E'\\n' order by t::text) as content from "${name}" t`));
    rows[name] = row?.content ?? '';
  }
  return rows;
}

describe(`every route with app B's key about app A's data (${backendName})`, () => {
  let t: MultiAppTestApp;
  let token: string;
  let grantId: string;
  let eventId: string;
  let signedTransaction: string;
  const dbOf = (appId: string) => t.databases.get(appId)!.database.db;

  beforeAll(async () => {
    t = await createMultiAppTestApp({ overrides: { verifyReceipt: null } });
    const bearer = { authorization: `Bearer ${A.apiKey}` };
    token = (await t.app.inject({ method: 'GET', url: `/users/${USER}/app-account-token`, headers: bearer })).json().appAccountToken;
    const transaction = {
      bundleId: A.bundleId,
      transactionId: ORIGINAL,
      originalTransactionId: ORIGINAL,
      productId: SECRET_PRODUCT,
      appAccountToken: token,
      purchaseDate: Date.now() - 120_000,
      originalPurchaseDate: Date.now() - 120_000,
      expiresDate: Date.now() + 30 * 86_400_000,
    };
    const signedPayload = signNotification(t.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      bundleId: A.bundleId,
      environment: 'Sandbox',
      signedDate: Date.now() - 60_000,
      transaction,
      renewalInfo: { originalTransactionId: ORIGINAL, productId: SECRET_PRODUCT, autoRenewProductId: SECRET_PRODUCT },
    });
    expect((await t.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } })).statusCode).toBe(200);
    const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'x-app-id': A.id };
    const grant = await t.app.inject({
      method: 'POST',
      url: `/admin/users/${USER}/grants`,
      headers: admin,
      payload: { entitlement: GRANTED, duration: 'P1M', reason: 'support' },
    });
    expect(grant.statusCode).toBe(200);
    grantId = grant.json().grantId;
    const [event] = await queryRows<{ id: string }>(dbOf(A.id), sql`select id from events order by seq limit 1`);
    eventId = event!.id;
    signedTransaction = t.pki.sign({
      ...transaction,
      signedDate: Date.now() - 60_000,
      type: 'Auto-Renewable Subscription',
      environment: 'Sandbox',
      inAppOwnershipType: 'PURCHASED',
    });
    // App A's data as the user sees it, to be sure the checks below look for something that is there.
    const own = await t.app.inject({ method: 'GET', url: `/entitlements/${USER}`, headers: bearer });
    expect(JSON.stringify(own.json())).toContain(SECRET_PRODUCT);
    expect(JSON.stringify(own.json())).toContain(GRANTED);
  }, 120_000);
  afterAll(async () => t?.close());

  it('has an entry for every app-backend and admin route of the API reference', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    const covered = Object.keys(calls('g', 'e', 's'));
    expect(routes.filter((route) => !NOT_PER_KEY.has(route) && !covered.includes(route))).toEqual([]);
    expect(covered.filter((route) => !routes.includes(route))).toEqual([]);
  });

  it("neither shows nor changes anything of app A, whatever route app B's key calls", async () => {
    const before = await everyRow(dbOf(A.id));
    const outcomes: Record<string, number> = {};
    for (const [route, call] of Object.entries(calls(grantId, eventId, signedTransaction))) {
      const [method, path] = route.split(' ') as [string, string];
      const headers = path.startsWith('/admin/') ? { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'x-app-id': B.id } : { authorization: `Bearer ${B.apiKey}` };
      const response = await t.app.inject({
        method: method as 'GET',
        url: call.url,
        headers,
        ...(call.body === undefined ? {} : { payload: call.body as object }),
      });
      outcomes[route] = response.statusCode;
      expect(response.statusCode, `${route}: ${response.body}`).toBeLessThan(500);
      // What A has that the request itself does not name (an error may repeat what it was asked).
      const asked = JSON.stringify(call);
      for (const secret of [token, GRANTED, eventId, SECRET_PRODUCT, grantId]) {
        if (!asked.includes(secret)) expect(response.body, route).not.toContain(secret);
      }
    }
    expect(await everyRow(dbOf(A.id))).toEqual(before);
    // The reads answer (about B's empty data), so the checks above looked at real answers.
    for (const route of [
      'GET /entitlements/{userId}',
      'GET /admin/users/{userId}',
      'GET /users/{userId}/transactions',
      'GET /events',
      'GET /admin/notifications',
    ]) {
      expect(outcomes[route], route).toBe(200);
    }
    // B's key wrote to B: its grant, its user.
    const [grantRow] = await queryRows<{ n: number }>(dbOf(B.id), sql`select count(*)::int as n from grants`);
    expect(grantRow!.n).toBe(1);
  });
});
