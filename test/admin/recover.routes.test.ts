import { describe, expect, it } from 'vitest';
import { TEST_API_KEY, TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { createTestPki, signNotification } from '../helpers/pki.js';
import { ADMIN, HISTORY_PATH, historyPage, hoursAgo, useAdminFixture } from './fixture.js';

const RECOVER = '/admin/notifications/recover';

describe('POST /admin/notifications/recover', () => {
  const fixture = useAdminFixture();
  const window = () => ({ startDate: hoursAgo(24), endDate: hoursAgo(0) });

  it('applies only the notifications not yet recorded and counts the others as duplicates', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    const payloads = [fixture.notification(), fixture.notification(), fixture.notification()];
    for (const signedPayload of payloads.slice(0, 2)) {
      const delivered = await app.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } });
      expect(delivered.json()).toEqual({ status: 'processed' });
    }
    fixture.double.reply('POST', HISTORY_PATH, historyPage(payloads));

    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });

    expect(response.json()).toEqual({ fetched: 3, applied: 1, duplicate: 2, rejected: 0, environments: ['Production'] });
    expect(await fixture.recorded(app, 'webhook')).toBe(2);
    expect(await fixture.recorded(app, 'recovery')).toBe(1);
    expect(app.runs).toEqual([{ trigger: 'admin', outcome: 'success', fetched: 3, applied: 1 }]);
  });

  it('running the same window twice applies nothing the second time', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification(), fixture.notification()]));
    const body = window();
    const first = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: body });
    const second = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: body });
    expect(first.json()).toMatchObject({ fetched: 2, applied: 2, duplicate: 0 });
    expect(second.json()).toMatchObject({ fetched: 2, applied: 0, duplicate: 2 });
    expect(await fixture.recorded(app)).toBe(2);
  });

  it('follows paginationToken across pages and sends the window in milliseconds with onlyFailures', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply(
      'POST',
      HISTORY_PATH,
      historyPage([fixture.notification(), fixture.notification()], 'page-2'),
      historyPage([fixture.notification()], 'page-3'),
      historyPage([fixture.notification()]),
    );
    const body = { ...window(), onlyFailures: true };

    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: body });

    expect(response.json()).toMatchObject({ fetched: 4, applied: 4 });
    expect(fixture.double.requests.map((r) => r.query.paginationToken)).toEqual([undefined, ['page-2'], ['page-3']]);
    expect(fixture.double.requests[0]?.body).toEqual({
      startDate: Date.parse(body.startDate),
      endDate: Date.parse(body.endDate),
      onlyFailures: true,
    });
  });

  it('reads the Production and the Sandbox histories when both are accepted', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production,Sandbox' } });
    fixture.double.reply(
      'POST',
      HISTORY_PATH,
      historyPage([fixture.notification('Production')]),
      historyPage([fixture.notification('Sandbox'), fixture.notification('Sandbox')]),
    );
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });
    expect(response.json()).toEqual({ fetched: 3, applied: 3, duplicate: 0, rejected: 0, environments: ['Production', 'Sandbox'] });
    expect(fixture.double.requests).toHaveLength(2);
  });

  it('counts a notification signed by an untrusted chain as rejected and applies the rest', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    const stranger = await createTestPki({ label: 'stranger' });
    const forged = signNotification(stranger, {
      notificationType: 'SUBSCRIBED',
      bundleId: TEST_BUNDLE_ID,
      appAppleId: TEST_APP_APPLE_ID,
      environment: 'Production',
    });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([forged, fixture.notification()]));

    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });

    expect(response.json()).toMatchObject({ fetched: 2, applied: 1, duplicate: 0, rejected: 1 });
    expect(await fixture.recorded(app)).toBe(1);
  });

  it('counts a notification for another app as rejected', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    const otherApp = signNotification(fixture.pki, {
      notificationType: 'SUBSCRIBED',
      bundleId: 'com.example.other',
      appAppleId: TEST_APP_APPLE_ID,
      environment: 'Production',
    });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([otherApp]));
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });
    expect(response.json()).toMatchObject({ fetched: 1, applied: 0, rejected: 1 });
  });

  it('answers 503 APP_STORE_UNAVAILABLE when the App Store Server API cannot be reached', async () => {
    const app = await fixture.app({ api: fixture.api({ baseUrl: 'http://127.0.0.1:9' }) });
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('APP_STORE_UNAVAILABLE');
    expect(app.runs).toEqual([{ trigger: 'admin', outcome: 'failure', fetched: 0, applied: 0 }]);
  });

  it('stops with 503 when Apple fails on a later page, keeping what the earlier pages applied', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([fixture.notification()], 'page-2'), {
      status: 500,
      body: { errorCode: 5000000, errorMessage: 'An unknown error occurred.' },
    });
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });
    expect(response.statusCode).toBe(503);
    expect(response.json().error).toMatchObject({ code: 'APP_STORE_UNAVAILABLE' });
    expect(response.json().error.message).toContain('after 1 notification(s)');
    expect(await fixture.recorded(app)).toBe(1);
  });

  it("answers 502 APP_STORE_ERROR with Apple's code in the message when Apple refuses the request", async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply('POST', HISTORY_PATH, { status: 400, body: { errorCode: 4000012, errorMessage: 'too far' } });
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });
    expect(response.statusCode).toBe(502);
    expect(response.json().error.code).toBe('APP_STORE_ERROR');
    expect(response.json().error.message).toContain('4000012 (START_DATE_TOO_FAR_IN_PAST)');
  });

  it('answers 400 API_NOT_CONFIGURED without App Store Server API credentials', async () => {
    const app = await fixture.app({ api: null });
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: window() });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_NOT_CONFIGURED');
  });

  it.each([
    ['a start after the end', { startDate: hoursAgo(1), endDate: hoursAgo(2) }, 'INVALID_WINDOW'],
    // One instant for both ends: two calls a millisecond apart make a one-millisecond window.
    ['an empty window', ((at) => ({ startDate: at, endDate: at }))(hoursAgo(1)), 'INVALID_WINDOW'],
    ['an end in the future', { startDate: hoursAgo(1), endDate: hoursAgo(-1) }, 'WINDOW_IN_FUTURE'],
    ['a start more than 180 days ago', { startDate: hoursAgo(181 * 24), endDate: hoursAgo(1) }, 'WINDOW_TOO_OLD'],
    ['a date that is not ISO 8601', { startDate: 'yesterday', endDate: hoursAgo(1) }, 'INVALID_DATE'],
    ['a bare date without a time', { startDate: '2026-01-01', endDate: hoursAgo(1) }, 'INVALID_DATE'],
  ])('refuses %s with 400 before calling Apple', async (_name, body, code) => {
    const app = await fixture.app();
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: body });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe(code);
    expect(fixture.double.requests).toHaveLength(0);
  });

  it('accepts an end date within a minute ahead of the clock and asks Apple only up to now', async () => {
    const app = await fixture.app({ env: { APPLE_ENVIRONMENTS: 'Production' } });
    fixture.double.reply('POST', HISTORY_PATH, historyPage([]));
    const ahead = new Date(Date.now() + 30_000).toISOString();
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: { startDate: hoursAgo(1), endDate: ahead } });
    expect(response.statusCode).toBe(200);
    expect((fixture.double.requests[0]!.body as { endDate: number }).endDate).toBeLessThan(Date.parse(ahead));
  });

  it('refuses a body without startDate with 400 VALIDATION_ERROR', async () => {
    const app = await fixture.app();
    const response = await app.app.inject({ method: 'POST', url: RECOVER, headers: ADMIN, payload: { endDate: hoursAgo(1) } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('VALIDATION_ERROR');
  });

  it('answers 401 without a bearer token and 403 with an app key', async () => {
    const app = await fixture.app();
    const anonymous = await app.app.inject({ method: 'POST', url: RECOVER, payload: window() });
    const appKey = await app.app.inject({ method: 'POST', url: RECOVER, headers: { authorization: `Bearer ${TEST_API_KEY}` }, payload: window() });
    const wrongKey = await app.app.inject({ method: 'POST', url: RECOVER, headers: { authorization: 'Bearer nope' }, payload: window() });
    expect([anonymous.statusCode, appKey.statusCode, wrongKey.statusCode]).toEqual([401, 403, 401]);
    expect(fixture.double.requests).toHaveLength(0);
  });
});
