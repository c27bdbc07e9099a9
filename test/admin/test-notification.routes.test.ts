import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TEST_API_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { createTestPki } from '../helpers/pki.js';
import { ADMIN, useAdminFixture } from './fixture.js';

const TEST_PATH = '/inApps/v1/notifications/test';
const TOKEN = 'ce3af791-365e-4c60-841b-1674b43c1609_1700000000000';

describe('POST /admin/notifications/test', () => {
  const fixture = useAdminFixture();

  it('asks Apple for a test notification in Production when Production is accepted and answers its token', async () => {
    const app = await fixture.app();
    fixture.double.reply('POST', TEST_PATH, { body: { testNotificationToken: TOKEN } });

    const response = await app.app.inject({ method: 'POST', url: '/admin/notifications/test', headers: ADMIN });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ testNotificationToken: TOKEN, environment: 'Production' });
    expect(fixture.double.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${TEST_PATH}`]);
  });

  it('uses Sandbox when only Sandbox is accepted', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Sandbox' } });
    fixture.double.reply('POST', TEST_PATH, { body: { testNotificationToken: TOKEN } });
    const response = await app.app.inject({ method: 'POST', url: '/admin/notifications/test', headers: ADMIN });
    expect(response.json()).toEqual({ testNotificationToken: TOKEN, environment: 'Sandbox' });
  });

  it('uses the environment asked for, and refuses one that is not accepted with 400 ENVIRONMENT_NOT_ACCEPTED', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Sandbox' } });
    fixture.double.reply('POST', TEST_PATH, { body: { testNotificationToken: TOKEN } });
    const sandbox = await app.app.inject({ method: 'POST', url: '/admin/notifications/test?environment=Sandbox', headers: ADMIN });
    const production = await app.app.inject({ method: 'POST', url: '/admin/notifications/test?environment=Production', headers: ADMIN });
    expect(sandbox.json().environment).toBe('Sandbox');
    expect(production.statusCode).toBe(400);
    expect(production.json().error.code).toBe('ENVIRONMENT_NOT_ACCEPTED');
    expect(fixture.double.requests).toHaveLength(1);
  });

  it('answers 503 when Apple is unreachable and 400 API_NOT_CONFIGURED without credentials', async () => {
    const unreachable = await fixture.app({ api: fixture.api({ baseUrl: 'http://127.0.0.1:9' }) });
    const unconfigured = await fixture.app({ api: null });
    const down = await unreachable.app.inject({ method: 'POST', url: '/admin/notifications/test', headers: ADMIN });
    const none = await unconfigured.app.inject({ method: 'POST', url: '/admin/notifications/test', headers: ADMIN });
    expect([down.statusCode, down.json().error.code]).toEqual([503, 'APP_STORE_UNAVAILABLE']);
    expect([none.statusCode, none.json().error.code]).toEqual([400, 'API_NOT_CONFIGURED']);
  });

  it('answers 502 APP_STORE_UNAUTHORIZED when Apple refuses the credentials', async () => {
    const app = await fixture.app();
    fixture.double.reply('POST', TEST_PATH, { status: 401 });
    const response = await app.app.inject({ method: 'POST', url: '/admin/notifications/test', headers: ADMIN });
    expect(response.statusCode).toBe(502);
    expect(response.json().error.code).toBe('APP_STORE_UNAUTHORIZED');
  });

  it('answers 401 without a key and 403 with an app key, without calling Apple', async () => {
    const app = await fixture.app();
    const anonymous = await app.app.inject({ method: 'POST', url: '/admin/notifications/test' });
    const appKey = await app.app.inject({ method: 'GET', url: `/admin/notifications/test/${TOKEN}`, headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect([anonymous.statusCode, appKey.statusCode]).toEqual([401, 403]);
    expect(fixture.double.requests).toHaveLength(0);
  });
});

describe('GET /admin/notifications/test/:token', () => {
  const fixture = useAdminFixture();
  const testPayload = (signer = fixture.pki, bundleId = TEST_BUNDLE_ID) =>
    signer.sign({
      notificationType: 'TEST',
      notificationUUID: randomUUID(),
      data: { bundleId, appAppleId: TEST_APP_APPLE_ID, environment: 'Production' },
      version: '2.0',
      signedDate: Date.parse('2025-06-01T12:00:00Z'),
    });

  it("answers Apple's send attempts as Apple returns them, with the verified payload's type", async () => {
    const app = await fixture.app();
    const signedPayload = testPayload();
    const sendAttempts = [
      { attemptDate: 1_700_000_000_000, sendAttemptResult: 'TIMED_OUT' },
      { attemptDate: 1_700_000_060_000, sendAttemptResult: 'SUCCESS' },
    ];
    fixture.double.reply('GET', `${TEST_PATH}/${TOKEN}`, { body: { signedPayload, sendAttempts } });

    const response = await app.app.inject({ method: 'GET', url: `/admin/notifications/test/${TOKEN}`, headers: ADMIN });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ environment: 'Production', signedPayload, sendAttempts, notificationType: 'TEST' });
    expect(response.json().verificationError).toBeUndefined();
  });

  it('still answers the attempts, with the verifier code, when the payload does not verify', async () => {
    const app = await fixture.app();
    const stranger = await createTestPki({ label: 'stranger' });
    fixture.double.reply('GET', `${TEST_PATH}/${TOKEN}`, { body: { signedPayload: testPayload(stranger), sendAttempts: [] } });
    const response = await app.app.inject({ method: 'GET', url: `/admin/notifications/test/${TOKEN}`, headers: ADMIN });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ sendAttempts: [], verificationError: 'UNTRUSTED_ROOT' });
    expect(response.json().notificationType).toBeUndefined();
  });

  it('asks the Sandbox when told to', async () => {
    const app = await fixture.app();
    fixture.double.reply('GET', `${TEST_PATH}/${TOKEN}`, { body: { sendAttempts: [] } });
    const response = await app.app.inject({ method: 'GET', url: `/admin/notifications/test/${TOKEN}?environment=Sandbox`, headers: ADMIN });
    expect(response.json()).toEqual({ environment: 'Sandbox', sendAttempts: [] });
  });

  it('answers 404 TEST_NOTIFICATION_NOT_FOUND for a token Apple does not know', async () => {
    const app = await fixture.app();
    fixture.double.reply('GET', `${TEST_PATH}/unknown`, { status: 404, body: { errorCode: 4040008, errorMessage: 'not found' } });
    const response = await app.app.inject({ method: 'GET', url: '/admin/notifications/test/unknown', headers: ADMIN });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('TEST_NOTIFICATION_NOT_FOUND');
    expect(response.json().error.message).toContain('4040008');
  });
});
