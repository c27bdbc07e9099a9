import { Type } from 'typebox';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import { KeySet, requireAdminKey, requireApiKey } from '../../src/http/auth.js';
import { TEST_ADMIN_KEY, TEST_API_KEY } from '../helpers/app.js';
import { useTestApp } from '../helpers/fixtures.js';

describe('the app skeleton', () => {
  const t = useTestApp();

  beforeAll(async () => {
    // Routes that exist only in this test, to exercise auth and the error handler.
    t.app.register(async (scope) => {
      scope.addHook('onRequest', requireApiKey(scope.keys.app));
      scope.get('/probe/api', async () => ({ ok: true }));
      scope.post('/probe/body', { schema: { body: Type.Object({ n: Type.Integer() }) } }, async () => ({ ok: true }));
      scope.get('/probe/boom', async () => {
        throw new Error('secret internal detail');
      });
      scope.get('/probe/conflict', async () => {
        throw new ConflictError('ALREADY_LINKED', 'linked elsewhere');
      });
    });
    t.app.register(async (scope) => {
      scope.addHook('onRequest', requireAdminKey(scope.keys.admin, scope.keys.app));
      scope.get('/admin/probe', async () => ({ ok: true }));
    });
    await t.app.ready();
  });

  it('answers /healthz with 200', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 while the database answers', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ready' });
  });

  it('rejects app-backend requests without a valid bearer token with 401 in the error shape', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TEST_API_KEY}` }]) {
      const response = await t.app.inject({ method: 'GET', url: '/probe/api', headers });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    }
    const ok = await t.app.inject({ method: 'GET', url: '/probe/api', headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(ok.statusCode).toBe(200);
  });

  it('answers admin routes 401 without a key, 403 with an app key and 200 with an admin key', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/admin/probe' })).statusCode).toBe(401);
    const app = await t.app.inject({ method: 'GET', url: '/admin/probe', headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(app.statusCode).toBe(403);
    expect(app.json().error.code).toBe('FORBIDDEN');
    const admin = await t.app.inject({ method: 'GET', url: '/admin/probe', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(admin.statusCode).toBe(200);
  });

  it('maps schema violations and malformed JSON to 400 with stable codes', async () => {
    const headers = { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' };
    const invalid = await t.app.inject({ method: 'POST', url: '/probe/body', headers, payload: { n: 'x' } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('VALIDATION_ERROR');
    const malformed = await t.app.inject({ method: 'POST', url: '/probe/body', headers, payload: '{"n":' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('MALFORMED_JSON');
  });

  it('keeps internal error details away from the client', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/probe/boom', headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } });
    expect(response.body).not.toContain('secret internal detail');
  });

  it('answers deliberate errors with their own status and code', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/probe/conflict', headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('ALREADY_LINKED');
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('NOT_FOUND');
  });
});

describe('KeySet', () => {
  it('matches only configured keys and gives a stable non-secret id', () => {
    const keys = new KeySet(['alpha', 'beta']);
    expect(keys.match('alpha')).toMatch(/^[0-9a-f]{12}$/);
    expect(keys.match('alpha')).toBe(keys.match('alpha'));
    expect(keys.match('beta')).not.toBe(keys.match('alpha'));
    expect(keys.match('alph')).toBeNull();
    expect(new KeySet([]).match('')).toBeNull();
  });
});

describe('admin routes with ADMIN_API_KEYS unset', () => {
  const t = useTestApp({ env: { ADMIN_API_KEYS: '' } });

  it('answer 403 ADMIN_DISABLED to an app key', async () => {
    t.app.register(async (scope) => {
      scope.addHook('onRequest', requireAdminKey(scope.keys.admin, scope.keys.app));
      scope.get('/admin/probe', async () => ({ ok: true }));
    });
    const response = await t.app.inject({ method: 'GET', url: '/admin/probe', headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('ADMIN_DISABLED');
  });
});
