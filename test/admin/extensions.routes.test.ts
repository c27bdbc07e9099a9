import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { renewalExtensions, transactions } from '../../src/db/schema.js';
import { TEST_ADMIN_KEY, TEST_API_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID, type TestApp } from '../helpers/app.js';
import { DAY, HOUR } from '../helpers/constants.js';
import { signNotification } from '../helpers/pki.js';
import { ADMIN, useAdminFixture } from './fixture.js';

const OTID = '2000000000000001';
const SINGLE_PATH = `/inApps/v1/subscriptions/extend/${OTID}`;
const MASS_PATH = '/inApps/v1/subscriptions/extend/mass';
const PRODUCT = 'com.example.monthly';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function recorded(app: TestApp) {
  return app.deps.database.db.select().from(renewalExtensions);
}

describe('POST /admin/subscriptions/:originalTransactionId/extend', () => {
  const fixture = useAdminFixture();
  const extend = (app: TestApp, body: unknown, url = `/admin/subscriptions/${OTID}/extend`) =>
    app.app.inject({ method: 'POST', url, headers: ADMIN, payload: body as object });

  it('sends Apple the days, the reason and a fresh requestIdentifier, records who asked, and says the expiry is not applied yet', async () => {
    const app = await fixture.app();
    fixture.double.reply('PUT', SINGLE_PATH, { body: { originalTransactionId: OTID, success: true, effectiveDate: Date.parse('2026-12-08T10:00:00Z') } });

    const response = await extend(app, { days: 7, reason: 3 });

    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      originalTransactionId: OTID,
      environment: 'Production',
      accepted: true,
      effectiveDate: '2026-12-08T10:00:00.000Z',
      applied: false,
    });
    expect(body.note).toContain('RENEWAL_EXTENDED');
    expect(body.requestId).toMatch(UUID);
    expect(fixture.double.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['PUT', SINGLE_PATH, { extendByDays: 7, extendReasonCode: 3, requestIdentifier: body.requestId }],
    ]);
    const [row] = await recorded(app);
    expect(row).toMatchObject({ requestId: body.requestId, kind: 'single', target: OTID, days: 7, reason: 3, environment: 'Production' });
    expect(row?.answer).toMatchObject({ success: true });
    // The admin key's id, never the key itself.
    expect(row?.requestedBy).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.stringify(row)).not.toContain(TEST_ADMIN_KEY);
  });

  it('uses a fresh requestIdentifier for every request', async () => {
    const app = await fixture.app();
    fixture.double.reply('PUT', SINGLE_PATH, { body: { success: true } });
    const first = await extend(app, { days: 1, reason: 0 });
    const second = await extend(app, { days: 1, reason: 0 });
    expect(first.json().requestId).not.toBe(second.json().requestId);
    expect(await recorded(app)).toHaveLength(2);
  });

  it.each([
    [{ days: 0, reason: 1 }, 'days'],
    [{ days: 91, reason: 1 }, 'days'],
    [{ days: 1.5, reason: 1 }, 'days'],
    [{ days: 7, reason: 4 }, 'reason'],
    [{ days: 7, reason: -1 }, 'reason'],
    [{ reason: 1 }, 'days'],
    [{ days: 7 }, 'reason'],
  ])('refuses %j with 400 naming %s, without calling Apple or recording', async (body, field) => {
    const app = await fixture.app();
    const response = await extend(app, body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('VALIDATION_ERROR');
    expect(response.json().error.message).toContain(field);
    expect(fixture.double.requests).toHaveLength(0);
    expect(await recorded(app)).toHaveLength(0);
  });

  it('answers 404 TRANSACTION_NOT_FOUND for a subscription Apple does not know, 409 when Apple refuses the extension', async () => {
    const app = await fixture.app();
    fixture.double.reply('PUT', SINGLE_PATH, { status: 404, body: { errorCode: 4040005, errorMessage: 'not found' } });
    const unknown = await extend(app, { days: 7, reason: 1 });
    fixture.double.reply('PUT', SINGLE_PATH, { status: 403, body: { errorCode: 4030005, errorMessage: 'max extension' } });
    const refused = await extend(app, { days: 7, reason: 1 });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'TRANSACTION_NOT_FOUND']);
    expect([refused.statusCode, refused.json().error.code]).toEqual([409, 'EXTENSION_NOT_ALLOWED']);
    expect(await recorded(app)).toHaveLength(0);
  });

  it("answers 503 APP_STORE_UNAVAILABLE on Apple's retryable errors and 400 API_NOT_CONFIGURED without credentials, recording nothing", async () => {
    const app = await fixture.app();
    fixture.double.reply('PUT', SINGLE_PATH, { status: 500, body: { errorCode: 5000001, errorMessage: 'general internal retryable' } });
    const down = await extend(app, { days: 7, reason: 1 });
    const unconfigured = await fixture.app({ api: null });
    const none = await extend(unconfigured, { days: 7, reason: 1 });
    expect([down.statusCode, down.json().error.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);
    expect([none.statusCode, none.json().error.code]).toEqual([400, 'API_NOT_CONFIGURED']);
    expect(await recorded(app)).toHaveLength(0);
  });

  it("asks the purchase's own environment when the service has recorded it", async () => {
    const app = await fixture.app();
    const webhook = await app.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: fixture.notification('Sandbox', OTID) } });
    expect(webhook.statusCode).toBe(200);
    fixture.double.reply('PUT', SINGLE_PATH, { body: { success: true } });
    const response = await extend(app, { days: 3, reason: 2 });
    expect(response.json().environment).toBe('Sandbox');
  });

  it('answers 401 without a key and 403 with an app key, without calling Apple', async () => {
    const app = await fixture.app();
    const anonymous = await app.app.inject({ method: 'POST', url: `/admin/subscriptions/${OTID}/extend`, payload: { days: 1, reason: 0 } });
    const appKey = await app.app.inject({
      method: 'POST',
      url: '/admin/subscriptions/extend',
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
      payload: { productId: PRODUCT, days: 1, reason: 0 },
    });
    expect([anonymous.statusCode, appKey.statusCode]).toEqual([401, 403]);
    expect(fixture.double.requests).toHaveLength(0);
  });
});

describe('the stored subscription and a renewal extension', () => {
  const fixture = useAdminFixture();
  const expiryOf = async (app: TestApp) => {
    const rows = await app.deps.database.db
      .select({ expiresDate: transactions.expiresDate })
      .from(transactions)
      .where(eq(transactions.originalTransactionId, OTID));
    return rows.map((row) => row.expiresDate?.toISOString());
  };
  const notify = (app: TestApp, notificationType: string, signedDate: number, expiresDate: number) =>
    app.app.inject({
      method: 'POST',
      url: '/webhooks/apple/v2',
      payload: {
        signedPayload: signNotification(fixture.pki, {
          notificationType,
          ...(notificationType === 'SUBSCRIBED' ? { subtype: 'INITIAL_BUY' } : {}),
          bundleId: TEST_BUNDLE_ID,
          appAppleId: TEST_APP_APPLE_ID,
          environment: 'Production',
          signedDate,
          transaction: { expiresDate, signedDate },
          renewalInfo: { renewalDate: expiresDate, signedDate },
        }),
      },
    });

  it('stays unchanged after the extension request and takes the new expiry from RENEWAL_EXTENDED', async () => {
    const app = await fixture.app();
    const now = Date.now();
    const bought = now - 2 * HOUR;
    const expiry = bought + 30 * DAY;
    expect((await notify(app, 'SUBSCRIBED', bought, expiry)).statusCode).toBe(200);
    fixture.double.reply('PUT', SINGLE_PATH, { body: { originalTransactionId: OTID, success: true, effectiveDate: now } });

    const response = await app.app.inject({ method: 'POST', url: `/admin/subscriptions/${OTID}/extend`, headers: ADMIN, payload: { days: 7, reason: 3 } });

    expect(response.json().applied).toBe(false);
    expect(await expiryOf(app)).toEqual([new Date(expiry).toISOString()]);

    expect((await notify(app, 'RENEWAL_EXTENDED', now - 60_000, expiry + 7 * DAY)).statusCode).toBe(200);
    expect(await expiryOf(app)).toEqual([new Date(expiry + 7 * DAY).toISOString()]);
  });
});

describe('POST /admin/subscriptions/extend and its progress', () => {
  const fixture = useAdminFixture();

  it('sends Apple the product, days, reason, storefronts and a requestIdentifier, answers it as requestId and records the request', async () => {
    const app = await fixture.app();
    fixture.double.reply('POST', MASS_PATH, (request) => ({ body: { requestIdentifier: (request.body as { requestIdentifier: string }).requestIdentifier } }));

    const response = await app.app.inject({
      method: 'POST',
      url: '/admin/subscriptions/extend',
      headers: ADMIN,
      payload: { productId: PRODUCT, days: 3, reason: 3, storefronts: ['USA', 'CAN'] },
    });

    expect(response.statusCode).toBe(200);
    const { requestId } = response.json();
    expect(requestId).toMatch(UUID);
    expect(response.json()).toMatchObject({ productId: PRODUCT, environment: 'Production', applied: false });
    expect(fixture.double.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', MASS_PATH, { productId: PRODUCT, extendByDays: 3, extendReasonCode: 3, requestIdentifier: requestId, storefrontCountryCodes: ['USA', 'CAN'] }],
    ]);
    const [row] = await recorded(app);
    expect(row).toMatchObject({ requestId, kind: 'mass', target: PRODUCT, storefronts: ['USA', 'CAN'], days: 3, reason: 3 });
  });

  it.each([
    [{ productId: PRODUCT, days: 91, reason: 0 }, 'days'],
    [{ productId: PRODUCT, days: 1, reason: 9 }, 'reason'],
    [{ days: 1, reason: 0 }, 'productId'],
    [{ productId: PRODUCT, days: 1, reason: 0, storefronts: ['us'] }, 'storefronts'],
  ])('refuses %j with 400 naming %s', async (body, field) => {
    const app = await fixture.app();
    const response = await app.app.inject({ method: 'POST', url: '/admin/subscriptions/extend', headers: ADMIN, payload: body });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toContain(field);
    expect(fixture.double.requests).toHaveLength(0);
  });

  it('answers the progress as Apple reports it, and 404 EXTENSION_REQUEST_NOT_FOUND for a request Apple does not know', async () => {
    const app = await fixture.app();
    const requestId = '7c0ad8a8-2b4f-4a8b-9c53-000000000002';
    fixture.double.reply('GET', `${MASS_PATH}/${PRODUCT}/${requestId}`, {
      body: { requestIdentifier: requestId, complete: true, completeDate: Date.parse('2026-12-01T11:00:00Z'), succeededCount: 1200, failedCount: 3 },
    });
    fixture.double.reply('GET', `${MASS_PATH}/${PRODUCT}/unknown`, { status: 400, body: { errorCode: 4000011, errorMessage: 'invalid request identifier' } });

    const progress = await app.app.inject({ method: 'GET', url: `/admin/subscriptions/extend/${PRODUCT}/${requestId}`, headers: ADMIN });
    const unknown = await app.app.inject({ method: 'GET', url: `/admin/subscriptions/extend/${PRODUCT}/unknown`, headers: ADMIN });

    expect(progress.statusCode).toBe(200);
    expect(progress.json()).toEqual({
      requestId,
      productId: PRODUCT,
      environment: 'Production',
      complete: true,
      completeDate: '2026-12-01T11:00:00.000Z',
      succeededCount: 1200,
      failedCount: 3,
    });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'EXTENSION_REQUEST_NOT_FOUND']);
  });

  it('answers 404 PRODUCT_NOT_FOUND when Apple does not know the product, and 503 when Apple is unavailable', async () => {
    const app = await fixture.app();
    fixture.double.reply('POST', MASS_PATH, { status: 400, body: { errorCode: 4000023, errorMessage: 'invalid product id' } });
    const unknown = await app.app.inject({
      method: 'POST',
      url: '/admin/subscriptions/extend',
      headers: ADMIN,
      payload: { productId: 'nope', days: 1, reason: 0 },
    });
    fixture.double.reply('POST', MASS_PATH, { status: 503, body: { errorCode: 5000001, errorMessage: 'retryable' } });
    const down = await app.app.inject({
      method: 'POST',
      url: '/admin/subscriptions/extend',
      headers: ADMIN,
      payload: { productId: PRODUCT, days: 1, reason: 0 },
    });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'PRODUCT_NOT_FOUND']);
    expect([down.statusCode, down.json().error.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);
    expect(await recorded(app)).toHaveLength(0);
  });

  it('answers an unfinished request with complete false and null dates', async () => {
    const app = await fixture.app();
    fixture.double.reply('GET', `${MASS_PATH}/${PRODUCT}/r1`, { body: { requestIdentifier: 'r1', complete: false } });
    const progress = await app.app.inject({ method: 'GET', url: `/admin/subscriptions/extend/${PRODUCT}/r1?environment=Sandbox`, headers: ADMIN });
    expect(progress.json()).toMatchObject({ environment: 'Sandbox', complete: false, completeDate: null, succeededCount: null, failedCount: null });
    expect(fixture.double.requests).toHaveLength(1);
  });
});
