// Issue 19: one verifier family for several apps. A notification goes to the app of its
// signed bundleId; nested data naming another app, or a bundle no app has, is refused.
import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifierFamily } from '../../../src/apple/verifier/index.js';
import { createTestPki, signNotification, type TestPki } from '../../helpers/pki.js';
import { APP_APPLE_ID, BUNDLE_ID, codeOf, errorOf, fixedClock, productionTestNotification, transaction } from './support.js';

const KIDS_BUNDLE_ID = 'com.example.kids';
const GAMES_BUNDLE_ID = 'com.example.games';

describe('a verifier for several apps', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  const verifier = () =>
    createVerifierFamily({ rootCertificates: [pki.rootDer], onlineChecks: false, clock: fixedClock }).forApps([
      { id: 'main', bundleId: BUNDLE_ID, appAppleId: APP_APPLE_ID, environments: ['Sandbox', 'Production'] },
      { id: 'kids', bundleId: KIDS_BUNDLE_ID, environments: ['Sandbox'] },
      { id: 'games', bundleId: GAMES_BUNDLE_ID, environments: ['Sandbox'] },
    ]);

  it('answers each notification with the app its signed bundleId names', async () => {
    const routing = verifier();
    for (const [bundleId, appId] of [
      [BUNDLE_ID, 'main'],
      [KIDS_BUNDLE_ID, 'kids'],
      [GAMES_BUNDLE_ID, 'games'],
    ] as const) {
      const result = await routing.verifyNotification(signNotification(pki, { notificationType: 'SUBSCRIBED', bundleId, environment: 'Sandbox' }));
      expect(result.appId).toBe(appId);
      expect(result.transaction?.bundleId).toBe(bundleId);
    }
  });

  it('refuses a bundle no app has with WRONG_BUNDLE_ID', async () => {
    const signed = signNotification(pki, { notificationType: 'TEST', bundleId: 'com.example.unknown', environment: 'Sandbox' });
    const error = await errorOf(verifier().verifyNotification(signed));
    expect(error.code).toBe('WRONG_BUNDLE_ID');
    expect(error.message).toMatch(/no app's/);
  });

  it('refuses a notification of one app whose nested transaction names another app', async () => {
    const signed = signNotification(pki, { notificationType: 'SUBSCRIBED', bundleId: KIDS_BUNDLE_ID, environment: 'Sandbox' });
    const payload = JSON.parse(Buffer.from(signed.split('.')[1]!, 'base64url').toString('utf8')) as { data: Record<string, unknown> };
    payload.data.signedTransactionInfo = pki.sign(transaction({ bundleId: GAMES_BUNDLE_ID }));
    expect(await codeOf(verifier().verifyNotification(pki.sign(payload)))).toBe('NESTED_MISMATCH');
  });

  it("checks each app's own identity: environments and Apple id", async () => {
    const production = productionTestNotification(pki, KIDS_BUNDLE_ID);
    expect(await codeOf(verifier().verifyNotification(production))).toBe('WRONG_ENVIRONMENT');
    const wrongAppleId = productionTestNotification(pki, BUNDLE_ID, 999);
    expect(await codeOf(verifier().verifyNotification(wrongAppleId))).toBe('WRONG_APP_APPLE_ID');
  });
});
