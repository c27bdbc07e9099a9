import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAppRegistry } from '../src/app-registry.js';
import { createVerifierFamily } from '../src/apple/verifier/index.js';
import { type AppConfig, parseConfig } from '../src/config.js';
import { buildAppRegistry } from '../src/dependencies.js';
import { identityEntitlementMap, parseEntitlementsFile } from '../src/entitlements/entitlement-map.js';
import { noopEvents } from '../src/metrics/events.js';
import { codeOf, fixedClock } from './apple/verifier/support.js';
import { useTestPki } from './helpers/fixtures.js';
import { signNotification } from './helpers/pki.js';

const app = (id: string, bundleId: string): AppConfig => ({
  id,
  bundleId,
  appAppleId: null,
  environments: ['Sandbox'],
  credentials: null,
  offerKey: null,
  sharedSecret: `${id}-shared-secret`,
  catalogFile: null,
  apiKeys: [`${id}-key-0123456789abcdef`],
});

describe('the apps registry', () => {
  const fixture = useTestPki();

  function threeApps() {
    const family = createVerifierFamily({ rootCertificates: [fixture.pki.rootDer], onlineChecks: false, clock: fixedClock });
    const pro = parseEntitlementsFile(JSON.stringify({ entitlements: { pro: ['com.example.monthly'] } }));
    return createAppRegistry([app('a', 'com.example.a'), app('b', 'com.example.b'), app('c', 'com.example.c')], (config) => ({
      verifier: family.forApp({ bundleId: config.bundleId, environments: config.environments }),
      appStoreApi: null,
      catalog: config.id === 'b' ? pro : identityEntitlementMap,
    }));
  }

  it('finds each app by its id and by its bundle id, and no app for a bundle none has', () => {
    const apps = threeApps();
    expect(apps.all.map((each) => each.id)).toEqual(['a', 'b', 'c']);
    expect(apps.first.id).toBe('a');
    expect(apps.byId('b')?.bundleId).toBe('com.example.b');
    expect(apps.byBundleId('com.example.c')?.id).toBe('c');
    expect(apps.byBundleId('com.example.other')).toBeNull();
    expect(apps.byId('default')).toBeNull();
  });

  it('gives each app its own shared secret, keys and catalog', () => {
    const apps = threeApps();
    expect(apps.byId('a')?.sharedSecret).toBe('a-shared-secret');
    expect(apps.byId('c')?.apiKeys).toEqual(['c-key-0123456789abcdef']);
    expect(apps.byId('b')?.catalog.entitlementsFor('com.example.monthly')).toEqual(['pro']);
    expect(apps.byId('a')?.catalog.entitlementsFor('com.example.monthly')).toEqual(['com.example.monthly']);
  });

  it("verifies each app's notifications with that app's verifier only", async () => {
    const apps = threeApps();
    const forB = signNotification(fixture.pki, { notificationType: 'SUBSCRIBED', bundleId: 'com.example.b', environment: 'Sandbox' });
    expect(await codeOf(apps.byId('b')!.verifier.verifyNotification(forB))).toBe('ACCEPTED');
    expect(await codeOf(apps.byId('a')!.verifier.verifyNotification(forB))).toBe('WRONG_BUNDLE_ID');
    expect(await codeOf(apps.byBundleId('com.example.b')!.verifier.verifyNotification(forB))).toBe('ACCEPTED');
  });
});

describe('the composition root', () => {
  it('builds the apps registry from the configuration: verifier, API client, shared secret and catalog of each app', () => {
    const privateKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const config = parseConfig({
      APPLE_BUNDLE_ID: 'com.example.app',
      API_KEYS: 'k1-0123456789abcdef',
      APPLE_ENVIRONMENTS: 'Sandbox',
      APPLE_SHARED_SECRET: 'secret-0123456789',
      APPLE_ISSUER_ID: 'issuer-1',
      APPLE_KEY_ID: 'KEY0000001',
      APPLE_PRIVATE_KEY: privateKey,
    });
    const apps = buildAppRegistry(config, identityEntitlementMap, new Map(), fixedClock, noopEvents);
    expect(apps.all.map((each) => each.id)).toEqual(['default']);
    expect(apps.first.catalog).toBe(identityEntitlementMap);
    expect(apps.first.appStoreApi).not.toBeNull();
    expect(apps.first.offerKey).toMatchObject({ keyId: 'KEY0000001', source: 'api' });
    expect(apps.byBundleId('com.example.app')?.sharedSecret).toBe('secret-0123456789');
  });
});
