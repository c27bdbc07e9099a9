import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_APP_ID, parseConfig } from '../src/config.js';
import { parseAppsFile } from '../src/config-apps.js';
import { loadConfig } from '../src/load-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ase-apps-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pem = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

function file(name: string, content: string): string {
  const target = path.join(dir, name);
  writeFileSync(target, content);
  return target;
}

const apiKeyFile = file('main.p8', pem());
const offerKeyFile = file('main-offers.p8', pem());
const secretFile = file('main-secret', 'shared-secret-of-main\n');
const catalogFile = file('main-catalog.json', JSON.stringify({ entitlements: { pro: ['com.example.pro.monthly'] } }));

const main = {
  id: 'main',
  bundleId: 'com.example.app',
  appAppleId: 1234567890,
  environments: ['Production', 'Sandbox'],
  issuerId: 'issuer-main',
  keyId: 'KEYMAIN001',
  privateKeyFile: apiKeyFile,
  offerKeyId: 'OFFERMAIN1',
  offerPrivateKeyFile: offerKeyFile,
  sharedSecretFile: secretFile,
  catalogFile,
  apiKeys: ['main-key-0123456789abcdef'],
};
const second = { id: 'second', bundleId: 'com.example.second', environments: ['Sandbox'], apiKeys: ['second-key-0123456789abcdef'] };
const third = { id: 'third', bundleId: 'com.example.third', appAppleId: '42', apiKeys: ['third-key-0123456789abcdef'] };

// load-config.ts gives the parser fs; so does the test.
const readFile = (target: string) => readFileSync(target, 'utf8');

function parse(apps: unknown[]) {
  return parseAppsFile(JSON.stringify({ apps }), 'apps.json', readFile);
}

function problem(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('the apps file was accepted');
}

describe('APPS_FILE', () => {
  it('reads every app with its identity, credentials and offer key from files, shared secret from a file, catalog path and keys', () => {
    const { apps, warnings } = parse([main, second, third]);
    expect(apps.map((app) => app.id)).toEqual(['main', 'second', 'third']);
    const [first, b, c] = apps;
    expect(first).toMatchObject({
      bundleId: 'com.example.app',
      appAppleId: 1234567890,
      environments: ['Production', 'Sandbox'],
      credentials: { issuerId: 'issuer-main', keyId: 'KEYMAIN001' },
      offerKey: { keyId: 'OFFERMAIN1', issuerId: 'issuer-main', source: 'offer' },
      sharedSecret: 'shared-secret-of-main',
      catalogFile,
      apiKeys: ['main-key-0123456789abcdef'],
    });
    expect(first!.credentials!.privateKey).toContain('-----BEGIN PRIVATE KEY-----');
    expect(b).toMatchObject({ appAppleId: null, environments: ['Sandbox'], credentials: null, offerKey: null, sharedSecret: null, catalogFile: null });
    // No environments and no Apple id: Sandbox only, said once at start-up.
    expect(c).toMatchObject({ appAppleId: 42, environments: ['Production', 'Sandbox'] });
    expect(warnings).toEqual([]);
    expect(parse([{ id: 'x', bundleId: 'com.example.x' }]).warnings[0]).toContain('app "x" has no appAppleId');
  });

  it('uses the API credentials as offer key when the app has no offer key of its own', () => {
    const { offerKeyId: _id, offerPrivateKeyFile: _file, ...withoutOfferKey } = main;
    const [app] = parse([withoutOfferKey]).apps;
    expect(app!.offerKey).toMatchObject({ keyId: 'KEYMAIN001', issuerId: 'issuer-main', source: 'api' });
  });

  it.each([
    ['a missing bundle id', [{ id: 'a' }], 'APPS_FILE app "a" bundleId is required'],
    ['an id that cannot travel in a header', [{ id: 'a b', bundleId: 'com.example.a' }], 'APPS_FILE apps[0] id must be'],
    [
      'an inline private key',
      [{ ...second, privateKey: '-----BEGIN PRIVATE KEY-----' }],
      'APPS_FILE app "second" privateKey must come from a file: name it with privateKeyFile',
    ],
    ['an inline shared secret', [{ ...second, sharedSecret: 'abc' }], 'app "second" sharedSecret must come from a file: name it with sharedSecretFile'],
    ['an unknown field', [{ ...second, bundleID: 'x' }], 'app "second" bundleID is not a field of an app'],
    ['an unknown environment', [{ ...second, environments: ['Prod'] }], 'app "second" environments has unknown environment "Prod"'],
    [
      'Production without the Apple id',
      [{ ...second, environments: ['Production'] }],
      'app "second" appAppleId is required while environments accepts Production',
    ],
    ['a non-numeric Apple id', [{ ...second, appAppleId: 'abc' }], `app "second" appAppleId must be the app's numeric Apple id`],
    ['a key id without its key file', [{ ...second, issuerId: 'i', keyId: 'K' }], 'app "second" privateKeyFile is required'],
    [
      'an unreadable key file',
      [{ ...second, issuerId: 'i', keyId: 'K', privateKeyFile: path.join(dir, 'missing.p8') }],
      'app "second" privateKeyFile names a file that cannot be read',
    ],
    [
      'a key file without a PEM',
      [{ ...second, issuerId: 'i', keyId: 'K', privateKeyFile: file('not-pem', 'hello') }],
      'app "second" privateKeyFile must hold the PEM text',
    ],
    [
      'an offer key that is no EC key',
      [{ ...second, offerKeyId: 'O', offerPrivateKeyFile: file('bad-offer', 'nonsense') }],
      'app "second" offerPrivateKeyFile must be the PEM text of an EC P-256 private key',
    ],
    ['an empty shared secret file', [{ ...second, sharedSecretFile: file('empty', '\n') }], 'app "second" sharedSecretFile names an empty file'],
    ['a weak API key', [{ ...second, apiKeys: ['short'] }], 'app "second" apiKeys has a key shorter than 16 characters'],
    ['a bundle id listed twice', [main, { ...second, bundleId: 'com.example.app' }], `app "second" bundleId "com.example.app" is already app "main"'s`],
    ['a bundle id listed twice in another case', [main, { ...second, bundleId: 'COM.example.app' }], 'is already app "main"\'s'],
    ['an app id listed twice', [main, { ...second, id: 'main' }], 'APPS_FILE lists the app id "main" twice'],
    [
      'two app ids that keep their data under one schema name',
      [main, { ...second, id: 'Main' }],
      'app "Main" id keeps its data under the same name as app "main" (schema app_main)',
    ],
    [
      'two app ids that differ only in "." and "-"',
      [
        { ...second, id: 'a.b' },
        { ...third, id: 'a-b' },
      ],
      'app "a-b" id keeps its data under the same name as app "a.b"',
    ],
    ['one key for two apps', [main, { ...second, apiKeys: main.apiKeys }], 'app "second" apiKeys shares a key with app "main"'],
    ['no app', [], 'APPS_FILE lists no app'],
  ])('refuses %s with one line naming the app and the field', (_name, apps, expected) => {
    const message = problem(() => parse(apps));
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });

  it('refuses a file that is not JSON or has no apps array', () => {
    expect(problem(() => parseAppsFile('{', 'apps.json', readFile))).toContain('APPS_FILE is not valid JSON (apps.json)');
    expect(problem(() => parseAppsFile('{"app": []}', 'apps.json', readFile))).toContain('must be an object with an "apps" array');
  });
});

describe('the configuration with and without APPS_FILE', () => {
  it('makes the APPLE_* settings the one app "default", with API_KEYS as its keys', () => {
    const config = parseConfig({
      APPLE_BUNDLE_ID: 'com.example.app',
      API_KEYS: 'k1-0123456789abcdef',
      APPLE_ENVIRONMENTS: 'Sandbox',
      APPLE_SHARED_SECRET: 'secret-0123456789',
    });
    expect(config.appsFile).toBeNull();
    expect(config.apps).toHaveLength(1);
    expect(config.apps[0]).toMatchObject({
      id: DEFAULT_APP_ID,
      bundleId: 'com.example.app',
      environments: ['Sandbox'],
      sharedSecret: 'secret-0123456789',
      apiKeys: ['k1-0123456789abcdef'],
    });
    expect(config.apple).toMatchObject({ bundleId: config.apps[0]!.bundleId, environments: config.apps[0]!.environments });
  });

  it('needs neither APPLE_BUNDLE_ID nor API_KEYS with APPS_FILE, and describes the first app in the single-app fields', () => {
    const appsFile = file('one-app.json', JSON.stringify({ apps: [main] }));
    const { config, entitlementMap, catalogs } = loadConfig({ APPS_FILE: appsFile });
    expect(config.appsFile).toBe(appsFile);
    expect(config.apps.map((app) => app.id)).toEqual(['main']);
    expect(config.apple.bundleId).toBe('com.example.app');
    expect(config.apple.sharedSecret).toBe('shared-secret-of-main');
    expect(config.apiKeys).toEqual(['main-key-0123456789abcdef']);
    expect(entitlementMap.entitlementsFor('com.example.pro.monthly')).toEqual(['pro']);
    expect(catalogs.get('main')).toBe(entitlementMap);
  });

  it('refuses a per-app APPLE_* setting next to APPS_FILE, naming it', () => {
    const appsFile = file('one-app-2.json', JSON.stringify({ apps: [second] }));
    expect(problem(() => loadConfig({ APPS_FILE: appsFile, APPLE_BUNDLE_ID: 'com.example.app' }))).toMatch(/^APPLE_BUNDLE_ID is set together with APPS_FILE/);
    expect(problem(() => loadConfig({ APPS_FILE: appsFile, ENTITLEMENTS_FILE: catalogFile }))).toMatch(/^ENTITLEMENTS_FILE is set together with APPS_FILE/);
  });

  it('refuses an app key that is also an admin key or in API_KEYS', () => {
    const appsFile = file('one-app-3.json', JSON.stringify({ apps: [second] }));
    expect(problem(() => loadConfig({ APPS_FILE: appsFile, ADMIN_API_KEYS: second.apiKeys[0]! }))).toContain(
      'app "second" apiKeys shares a key with ADMIN_API_KEYS',
    );
  });

  it('names the app whose catalog file is invalid', () => {
    const appsFile = file('bad-catalog.json', JSON.stringify({ apps: [{ ...second, catalogFile: file('bad.json', '{"entitlements": 3}') }] }));
    expect(problem(() => loadConfig({ APPS_FILE: appsFile }))).toMatch(/^APPS_FILE app "second" catalogFile is invalid/);
  });

  it('serves several apps, each with its own catalog', () => {
    const appsFile = file('three-apps.json', JSON.stringify({ apps: [main, second, third] }));
    const { config, catalogs } = loadConfig({ APPS_FILE: appsFile });
    expect(config.apps.map((app) => app.id)).toEqual(['main', 'second', 'third']);
    expect([...catalogs.keys()]).toEqual(['main', 'second', 'third']);
  });
});
