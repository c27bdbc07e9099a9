// A 503 tells Apple (and the operator) what to wait for: its code names the real cause.
import { describe, expect, it } from 'vitest';
import { createSignedDataVerifier } from '../../src/apple/verifier/index.js';
import { TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { closedPortUrl } from '../helpers/closed-port.js';
import { backendName } from '../helpers/database.js';
import { useTestApp, useTestPki } from '../helpers/fixtures.js';
import { signNotification } from '../helpers/pki.js';
import { countRows, NOTHING } from '../helpers/rows.js';
import { V1_TEST, v1Body } from '../helpers/v1-bodies.js';

describe(`the code of a 503 (${backendName})`, () => {
  // Certificates whose OCSP responder is a port nothing listens on: ECONNREFUSED,
  // the same socket error a lost database connection gives.
  const ocsp = useTestPki(async () => ({ ocspUrl: `${await closedPortUrl()}/ocsp` }));
  const online = useTestApp(() => ({
    pki: ocsp.pki,
    overrides: {
      verifier: createSignedDataVerifier({
        rootCertificates: [ocsp.pki.rootDer],
        bundleId: TEST_BUNDLE_ID,
        appAppleId: TEST_APP_APPLE_ID,
        environments: ['Sandbox', 'Production'],
        onlineChecks: true,
        ocspTimeoutMs: 2_000,
      }),
    },
  }));
  const v1 = useTestApp(async () => ({
    env: { APPLE_SHARED_SECRET: V1_TEST.sharedSecret, APPLE_VERIFY_RECEIPT_URL: await closedPortUrl() },
  }));

  const notification = (bundleId: string) =>
    signNotification(ocsp.pki, { notificationType: 'DID_RENEW', bundleId, appAppleId: TEST_APP_APPLE_ID, environment: 'Sandbox' });

  it('answers 503 OCSP_UNAVAILABLE, not DATABASE_UNAVAILABLE, when the OCSP responder cannot be reached', async () => {
    const response = await online.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: notification(TEST_BUNDLE_ID) } });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('OCSP_UNAVAILABLE');
    expect(await countRows(online.deps.database.db)).toMatchObject({ transactions: 0, subscriptions: 0 });
  });

  it('answers 400 WRONG_BUNDLE_ID for another app, even while the OCSP responder cannot be reached', async () => {
    const response = await online.app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: notification('com.example.other') } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('WRONG_BUNDLE_ID');
  });

  it('answers 503 APP_STORE_UNAVAILABLE, not DATABASE_UNAVAILABLE, when verifyReceipt cannot be reached', async () => {
    const response = await v1.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload: v1Body('DID_RENEW') });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('APP_STORE_UNAVAILABLE');
    expect(await countRows(v1.deps.database.db)).toEqual(NOTHING);
  });
});
