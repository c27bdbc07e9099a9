import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireAdminKey, requireApiKey } from '../../src/http/auth.js';
import { adminLimitFor, rateLimitClass } from '../../src/http/rate-limit.js';
import { authHeader, createTestApp, TEST_ADMIN_KEY, TEST_API_KEY, type TestApp } from '../helpers/app.js';
import { useDatabaseAndPki } from '../helpers/fixtures.js';

const SECOND_API_KEY = 'second-api-key-0123456789';

/** The real app with probe routes in each rate-limit class, authenticated like the real ones. */
async function appWithProbes(env: Record<string, string>): Promise<TestApp> {
  // Each test gets a fresh app (fresh in-memory counters) over the file's one database.
  const t = await createTestApp({
    env: { API_KEYS: `${TEST_API_KEY},${SECOND_API_KEY}`, ...env },
    ...shared,
    // Pressure checks off: a busy test machine must not turn these into 503s.
  });
  t.app.register(async (scope) => {
    scope.addHook('onRequest', requireApiKey(scope.keys.app));
    scope.get('/probe/api', async () => ({ ok: true }));
    scope.get('/probe/other', async () => ({ ok: true }));
  });
  t.app.register(async (scope) => {
    scope.addHook('onRequest', requireAdminKey(scope.keys.admin, scope.keys.app));
    scope.get('/admin/probe', async () => ({ ok: true }));
  });
  // An app-key route in the admin class: the rate-limit hook matches its token against the admin keys.
  t.app.register(async (scope) => {
    scope.addHook('onRequest', requireApiKey(scope.keys.app));
    scope.get('/admin/app-key-probe', async () => ({ ok: true }));
  });
  // A hook between the rate-limit hook and auth that changes the token.
  t.app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      request.headers.authorization = 'Bearer not-a-key';
    });
    scope.addHook('onRequest', requireApiKey(scope.keys.app));
    scope.get('/probe/rewritten', async () => ({ ok: true }));
  });
  t.app.post('/webhooks/probe', async () => ({ ok: true }));
  await t.app.ready();
  return t;
}

const shared = useDatabaseAndPki();

describe('rate limits', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('answers 429 in the error shape with Retry-After once an API key passes its per-minute limit', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '3' });
    for (let i = 0; i < 3; i++) {
      const ok = await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() });
      expect(ok.statusCode).toBe(200);
    }
    const limited = await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) } });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('shares one budget per key across the app-backend routes', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '2' });
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/probe/other', headers: authHeader() })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/probe/other', headers: authHeader() })).statusCode).toBe(429);
  });

  it('counts each API key separately, even from the same address', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '2' });
    for (let i = 0; i < 2; i++) {
      expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(200);
    }
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(429);
    const other = await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader(SECOND_API_KEY) });
    expect(other.statusCode).toBe(200);
  });

  it('keeps one budget per key in a single-app installation, whether or not the request names the app', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '2' });
    const appId = t.deps.config.apps[0]!.id;
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: { ...authHeader(), 'x-app-id': appId } })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(429);
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: { ...authHeader(), 'x-app-id': appId } })).statusCode).toBe(429);
  });

  it('limits requests without a valid key by client address before they reach authentication', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '2' });
    const wrong = { authorization: 'Bearer not-a-key' };
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: wrong })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: wrong })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: wrong })).statusCode).toBe(429);
    // A valid key keeps its own budget.
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(200);
  });

  it('limits webhooks per client address, separately for each address', async () => {
    t = await appWithProbes({ RATE_LIMIT_WEBHOOK_PER_MINUTE: '2' });
    const from = (remoteAddress: string) => t!.app.inject({ method: 'POST', url: '/webhooks/probe', remoteAddress, payload: {} });
    expect((await from('203.0.113.1')).statusCode).toBe(200);
    expect((await from('203.0.113.1')).statusCode).toBe(200);
    const limited = await from('203.0.113.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await from('203.0.113.2')).statusCode).toBe(200);
  });

  it('keys webhooks on the client address the trusted proxy appends, which a forged X-Forwarded-For cannot change (hop count)', async () => {
    t = await appWithProbes({ RATE_LIMIT_WEBHOOK_PER_MINUTE: '1', TRUST_PROXY: '1' });
    // The balancer (10.0.0.5) appends the address it saw; whatever the client wrote comes before it.
    const via = (forwarded: string) =>
      t!.app.inject({ method: 'POST', url: '/webhooks/probe', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-for': forwarded }, payload: {} });
    expect((await via('198.51.100.7')).statusCode).toBe(200);
    expect((await via('198.51.100.7')).statusCode).toBe(429);
    expect((await via('203.0.113.1, 198.51.100.7')).statusCode).toBe(429);
    expect((await via('203.0.113.2, 198.51.100.7')).statusCode).toBe(429);
    expect((await via('198.51.100.8')).statusCode).toBe(200);
  });

  it('trusts X-Forwarded-For only from the listed proxy addresses, so a direct client cannot pick its key', async () => {
    t = await appWithProbes({ RATE_LIMIT_WEBHOOK_PER_MINUTE: '1', TRUST_PROXY: '10.0.0.0/8' });
    const post = (remoteAddress: string, forwarded: string) =>
      t!.app.inject({ method: 'POST', url: '/webhooks/probe', remoteAddress, headers: { 'x-forwarded-for': forwarded }, payload: {} });
    // Through the balancer: forged entries left of the one it appended change nothing.
    expect((await post('10.0.0.5', '203.0.113.1, 198.51.100.7')).statusCode).toBe(200);
    expect((await post('10.0.0.6', '203.0.113.2, 198.51.100.7')).statusCode).toBe(429);
    // Straight from the internet: the header is ignored, the client counts as itself.
    expect((await post('192.0.2.50', '198.51.100.20')).statusCode).toBe(200);
    expect((await post('192.0.2.50', '198.51.100.21')).statusCode).toBe(429);
  });

  it('applies a stricter limit to /admin/* than to the app-backend routes', async () => {
    expect(adminLimitFor(60_000)).toBe(600);
    expect(adminLimitFor(10)).toBe(10);
    expect(adminLimitFor(0)).toBe(0);
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '2' });
    const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
    expect((await t.app.inject({ method: 'GET', url: '/admin/probe', headers: admin })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/admin/probe', headers: admin })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/admin/probe', headers: admin })).statusCode).toBe(429);
    // The admin budget is its own: the app key has not been charged.
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(200);
  });

  it('does not limit at all when a limit is 0', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '0', RATE_LIMIT_WEBHOOK_PER_MINUTE: '0' });
    for (let i = 0; i < 30; i++) {
      expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'POST', url: '/webhooks/probe', payload: {} })).statusCode).toBe(200);
    }
    const response = await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() });
    expect(response.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('keeps the probes and the metrics scrape off the API and webhook budgets', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '1', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1' });
    for (let i = 0; i < 5; i++) {
      expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    }
  });

  it('hashes the bearer token of an authenticated request once with the rate limit on', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '100' });
    const appMatches = vi.spyOn(t.app.keys.app, 'indexOf');
    const adminMatches = vi.spyOn(t.app.keys.admin, 'indexOf');
    const api = await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() });
    expect(api.statusCode).toBe(200);
    // The limit was counted: the rate-limit hook made the match auth reused.
    expect(api.headers['x-ratelimit-remaining']).toBe('99');
    expect(appMatches).toHaveBeenCalledTimes(1);
    expect(adminMatches).not.toHaveBeenCalled();
    appMatches.mockClear();
    const admin = await t.app.inject({ method: 'GET', url: '/admin/probe', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(admin.statusCode).toBe(200);
    expect(adminMatches).toHaveBeenCalledTimes(1);
    expect(appMatches).not.toHaveBeenCalled();
  });

  it('matches the token in the auth hook alone when the rate limit is off', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '0' });
    const appMatches = vi.spyOn(t.app.keys.app, 'indexOf');
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader() })).statusCode).toBe(200);
    expect(appMatches).toHaveBeenCalledTimes(1);
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: authHeader('not-a-key') })).statusCode).toBe(401);
  });

  it('never authenticates a key with a match made for another key set', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '100' });
    const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
    // /admin/*: the rate-limit hook matched the admin key among the admin keys; the app-key route refuses it.
    expect((await t.app.inject({ method: 'GET', url: '/admin/app-key-probe', headers: admin })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/admin/app-key-probe', headers: authHeader() })).statusCode).toBe(200);
    // The other way: an admin key on an app route, an app key on an admin route.
    expect((await t.app.inject({ method: 'GET', url: '/probe/api', headers: admin })).statusCode).toBe(401);
    const appOnAdmin = await t.app.inject({ method: 'GET', url: '/admin/probe', headers: authHeader() });
    expect(appOnAdmin.statusCode).toBe(403);
    expect(appOnAdmin.json().error.code).toBe('FORBIDDEN');
  });

  it('matches afresh a token changed after the rate-limit hook matched it', async () => {
    t = await appWithProbes({ RATE_LIMIT_API_PER_MINUTE: '100' });
    const appMatches = vi.spyOn(t.app.keys.app, 'indexOf');
    const response = await t.app.inject({ method: 'GET', url: '/probe/rewritten', headers: authHeader() });
    expect(response.statusCode).toBe(401);
    expect(appMatches).toHaveBeenCalledTimes(2);
    expect(appMatches).toHaveBeenLastCalledWith('not-a-key');
  });

  it('classifies routes by their URL prefix', () => {
    expect(rateLimitClass('/webhooks/apple/v2')).toBe('webhook');
    expect(rateLimitClass('/webhooks/apple/v1')).toBe('webhook');
    expect(rateLimitClass('/admin/notifications/recover')).toBe('admin');
    expect(rateLimitClass('/entitlements/:userId')).toBe('api');
    expect(rateLimitClass('/users/:userId/transactions')).toBe('api');
    expect(rateLimitClass('/healthz')).toBe('probe');
    expect(rateLimitClass('/metrics?x=1')).toBe('probe');
    expect(rateLimitClass('/administrator')).toBe('api');
  });
});
