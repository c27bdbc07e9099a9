import { describe, expect, it } from 'vitest';
import type { AppConfig, Config } from '../../src/config.js';
import { authHeader, TEST_ADMIN_KEY, TEST_API_KEY, TEST_BUNDLE_ID, testConfig } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';

// GET /admin/apps (beyond SPEC): the installation's apps for the console's switcher, never a secret.

const shared = useDatabaseAndPki();
const admin = authHeader(TEST_ADMIN_KEY);

const SHARED_SECRET = 'v1-shared-secret-0123456789abcdef';
const PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgapps-route-test\n-----END PRIVATE KEY-----';
const KIDS_KEY = 'kids-key-0123456789abcdef';

describe(`GET /admin/apps on a single-app installation (${backendName})`, () => {
  const t = useTestApp(() => ({ ...shared, env: { APPLE_SHARED_SECRET: SHARED_SECRET } }));

  it('lists the one app `default` of the APPLE_* settings', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/admin/apps', headers: admin });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({
      apps: [{ id: 'default', bundleId: TEST_BUNDLE_ID, environments: ['Production', 'Sandbox'], apiConfigured: false, v1: true }],
    });
    expect(response.body).not.toContain(SHARED_SECRET);
  });

  it('answers 401 without a key or with a wrong one, and 403 to an app key', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/admin/apps' });
    expect([none.statusCode, none.json().error.code]).toEqual([401, 'UNAUTHORIZED']);
    const wrong = await t.app.inject({ method: 'GET', url: '/admin/apps', headers: authHeader('not-a-key-of-this-service') });
    expect(wrong.statusCode).toBe(401);
    const appKey = await t.app.inject({ method: 'GET', url: '/admin/apps', headers: authHeader(TEST_API_KEY) });
    expect([appKey.statusCode, appKey.json().error.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('is in the OpenAPI document under admin', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json();
    expect(document.paths['/admin/apps'].get.tags).toEqual(['admin']);
    expect(Object.keys(document.paths['/admin/apps'].get.responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
  });
});

describe(`GET /admin/apps with an APPS_FILE of three apps (${backendName})`, () => {
  // What parseConfig makes of an APPS_FILE of three apps (loadConfig still refuses several at start-up; buildApp does not).
  const config = (): Config => {
    const base = testConfig();
    const first = base.apps[0]!;
    const apps: AppConfig[] = [
      { ...first, id: 'main', apiKeys: [TEST_API_KEY] },
      {
        ...first,
        id: 'kids',
        bundleId: 'com.example.kids',
        appAppleId: null,
        environments: ['Sandbox'],
        credentials: { issuerId: 'issuer-kids', keyId: 'KIDSKEY123', privateKey: PRIVATE_KEY },
        offerKey: { issuerId: 'issuer-kids', keyId: 'KIDSKEY123', privateKey: PRIVATE_KEY, source: 'api' },
        apiKeys: [KIDS_KEY],
      },
      { ...first, id: 'photos', bundleId: 'com.example.photos', sharedSecret: SHARED_SECRET, catalogFile: '/etc/entitlements/photos.json', apiKeys: [] },
    ];
    return { ...base, appsFile: 'apps.json', apiKeys: [TEST_API_KEY, KIDS_KEY], apps };
  };
  const t = useTestApp(() => ({ ...shared, overrides: { config: config() } }));

  it('lists every app in the configured order, saying what each has configured', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/admin/apps', headers: admin });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({
      apps: [
        { id: 'main', bundleId: TEST_BUNDLE_ID, environments: ['Production', 'Sandbox'], apiConfigured: false, v1: false },
        { id: 'kids', bundleId: 'com.example.kids', environments: ['Sandbox'], apiConfigured: true, v1: false },
        { id: 'photos', bundleId: 'com.example.photos', environments: ['Production', 'Sandbox'], apiConfigured: false, v1: true },
      ],
    });
  });

  it('never shows a secret, a key or a file path', async () => {
    const body = (await t.app.inject({ method: 'GET', url: '/admin/apps', headers: admin })).body;
    for (const secret of [SHARED_SECRET, PRIVATE_KEY, 'PRIVATE KEY', 'KIDSKEY123', 'issuer-kids', KIDS_KEY, TEST_API_KEY, '/etc/entitlements']) {
      expect(body).not.toContain(secret);
    }
  });

  it('needs no X-App-Id, accepts one naming an app, and refuses an id of no app', async () => {
    const named = await t.app.inject({ method: 'GET', url: '/admin/apps', headers: { ...admin, 'x-app-id': 'kids' } });
    expect(named.statusCode).toBe(200);
    expect(named.json().apps).toHaveLength(3);
    const unknown = await t.app.inject({ method: 'GET', url: '/admin/apps', headers: { ...admin, 'x-app-id': 'nope' } });
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([400, 'UNKNOWN_APP']);
  });

  it("refuses an app's own key with 403, whatever app it names", async () => {
    for (const headers of [authHeader(KIDS_KEY), { ...authHeader(KIDS_KEY), 'x-app-id': 'kids' }, authHeader(TEST_API_KEY)]) {
      const response = await t.app.inject({ method: 'GET', url: '/admin/apps', headers });
      expect([response.statusCode, response.json().error.code]).toEqual([403, 'FORBIDDEN']);
    }
  });
});
