// Issue 19, step 3 (SPEC "Several apps"): which app a request acts for. An app's key acts
// for its own app (X-App-Id may name it, and only it); a key of API_KEYS with APPS_FILE
// must name one; an admin key names one, or acts for the only app.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { CodedError, ForbiddenError, InvalidInputError, UnauthorizedError } from '../../src/errors.js';
import { KeySet, requireAdminKey, requireApiKey } from '../../src/http/auth.js';
import { authHeader, TEST_ADMIN_KEY, testConfig } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';

const GLOBAL_KEY = 'global-key-0123456789abcdef';
const MAIN_KEY = 'main-key-0123456789abcdef';
const KIDS_KEY = 'kids-key-0123456789abcdef';
const ADMIN_KEY = 'admin-key-0123456789abcdef';

const appKeys = new KeySet([GLOBAL_KEY, MAIN_KEY, KIDS_KEY], {
  ownerOf: (key) => ({ [MAIN_KEY]: 'main', [KIDS_KEY]: 'kids' })[key] ?? null,
  appIds: ['main', 'kids'],
});

const reply = {} as FastifyReply;

/** The status the error handler gives each kind of refusal (src/http/error-handler.ts). */
const statusOf = (error: CodedError) =>
  error instanceof InvalidInputError ? 400 : error instanceof UnauthorizedError ? 401 : error instanceof ForbiddenError ? 403 : 'other';

/** What the hook decided: the app, or the error's status and code. */
async function outcome(hook: (request: FastifyRequest, reply: FastifyReply) => Promise<void>, key: string, appId?: string) {
  const request = { headers: { authorization: `Bearer ${key}`, ...(appId === undefined ? {} : { 'x-app-id': appId }) } } as unknown as FastifyRequest;
  try {
    await hook(request, reply);
    return { appId: request.appId ?? null };
  } catch (error) {
    if (error instanceof CodedError) return { status: statusOf(error), code: error.code };
    throw error;
  }
}

describe('requireApiKey with several apps', () => {
  const hook = requireApiKey(appKeys);

  it("acts for an app key's own app, named or not", async () => {
    expect(await outcome(hook, MAIN_KEY)).toEqual({ appId: 'main' });
    expect(await outcome(hook, MAIN_KEY, 'main')).toEqual({ appId: 'main' });
    expect(await outcome(hook, KIDS_KEY)).toEqual({ appId: 'kids' });
  });

  it('refuses an app key naming another app, or an app there is not, with 403 APP_FORBIDDEN', async () => {
    expect(await outcome(hook, MAIN_KEY, 'kids')).toEqual({ status: 403, code: 'APP_FORBIDDEN' });
    expect(await outcome(hook, KIDS_KEY, 'main')).toEqual({ status: 403, code: 'APP_FORBIDDEN' });
    expect(await outcome(hook, KIDS_KEY, 'nope')).toEqual({ status: 403, code: 'APP_FORBIDDEN' });
  });

  it('makes a key of no app name one: 400 APP_REQUIRED without X-App-Id, 400 UNKNOWN_APP for an id of no app', async () => {
    expect(await outcome(hook, GLOBAL_KEY)).toEqual({ status: 400, code: 'APP_REQUIRED' });
    expect(await outcome(hook, GLOBAL_KEY, 'kids')).toEqual({ appId: 'kids' });
    expect(await outcome(hook, GLOBAL_KEY, 'main')).toEqual({ appId: 'main' });
    expect(await outcome(hook, GLOBAL_KEY, 'nope')).toEqual({ status: 400, code: 'UNKNOWN_APP' });
    expect(await outcome(hook, GLOBAL_KEY, 'main, kids')).toEqual({ status: 400, code: 'UNKNOWN_APP' });
  });

  it('still answers 401 to no key or an unknown one, whatever the app', async () => {
    expect(await outcome(hook, 'not-a-key', 'main')).toEqual({ status: 401, code: 'UNAUTHORIZED' });
  });
});

describe('requireAdminKey with several apps', () => {
  const hook = requireAdminKey(new KeySet([ADMIN_KEY]), appKeys);

  it('acts for the app X-App-Id names, for none when it names none, and refuses an id of no app', async () => {
    expect(await outcome(hook, ADMIN_KEY, 'kids')).toEqual({ appId: 'kids' });
    expect(await outcome(hook, ADMIN_KEY)).toEqual({ appId: null });
    expect(await outcome(hook, ADMIN_KEY, 'nope')).toEqual({ status: 400, code: 'UNKNOWN_APP' });
  });

  it('keeps app keys out of the admin API, whatever app they name', async () => {
    expect(await outcome(hook, MAIN_KEY, 'main')).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('acts for the only app of an installation without X-App-Id', async () => {
    const single = requireAdminKey(new KeySet([ADMIN_KEY]), new KeySet([MAIN_KEY], { ownerOf: () => 'default', appIds: ['default'] }));
    expect(await outcome(single, ADMIN_KEY)).toEqual({ appId: 'default' });
  });
});

describe(`X-App-Id on a single-app service without APPS_FILE (${backendName})`, () => {
  const t = useTestApp();

  const entitlements = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/entitlements/u-app-header', headers });

  it('takes API_KEYS as the keys of the app `default`: no header needed, the header may name it, not another', async () => {
    expect((await entitlements(authHeader())).statusCode).toBe(200);
    expect((await entitlements({ ...authHeader(), 'x-app-id': 'default' })).statusCode).toBe(200);
    const other = await entitlements({ ...authHeader(), 'x-app-id': 'kids' });
    expect(other.statusCode).toBe(403);
    expect(other.json()).toMatchObject({ error: { code: 'APP_FORBIDDEN' } });
  });

  it('lets an admin key name the app, or not, and refuses an id of no app', async () => {
    const admin = (headers: Record<string, string>) =>
      t.app.inject({ method: 'GET', url: '/admin/users/u-app-header', headers: { ...authHeader(TEST_ADMIN_KEY), ...headers } });
    expect((await admin({})).statusCode).toBe(200);
    expect((await admin({ 'x-app-id': 'default' })).statusCode).toBe(200);
    const unknown = await admin({ 'x-app-id': 'kids' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ error: { code: 'UNKNOWN_APP' } });
  });
});

describe(`X-App-Id on a service with an APPS_FILE of one app and a key in API_KEYS (${backendName})`, () => {
  // What parseConfig makes of APPS_FILE with API_KEYS=GLOBAL_KEY and one app "main" whose apiKeys is [MAIN_KEY].
  const config = (): Config => {
    const base = testConfig();
    return { ...base, appsFile: 'apps.json', apiKeys: [GLOBAL_KEY, MAIN_KEY], apps: [{ ...base.apps[0]!, id: 'main', apiKeys: [MAIN_KEY] }] };
  };
  const t = useTestApp(() => ({ overrides: { config: config() } }));

  const entitlements = (key: string, appId?: string) =>
    t.app.inject({ method: 'GET', url: '/entitlements/u-app-header', headers: { ...authHeader(key), ...(appId === undefined ? {} : { 'x-app-id': appId }) } });

  it("serves the app's own key without the header", async () => {
    expect((await entitlements(MAIN_KEY)).statusCode).toBe(200);
  });

  it('makes the key of API_KEYS name the app', async () => {
    const missing = await entitlements(GLOBAL_KEY);
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ error: { code: 'APP_REQUIRED' } });
    expect((await entitlements(GLOBAL_KEY, 'main')).statusCode).toBe(200);
    expect((await entitlements(GLOBAL_KEY, 'default')).json()).toMatchObject({ error: { code: 'UNKNOWN_APP' } });
  });
});
