import type { SignedDataVerifierOptions } from '../../../src/apple/verifier/index.js';
import { createSignedDataVerifier, VerificationError } from '../../../src/apple/verifier/index.js';
import type { Clock } from '../../../src/clock.js';
import { TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../../helpers/constants.js';
import { signNotification, type TestPki } from '../../helpers/pki.js';

export const BUNDLE_ID = TEST_BUNDLE_ID;
export const APP_APPLE_ID = TEST_APP_APPLE_ID;
/** Inside the default test PKI validity (2020..2040) and the default signedDate. */
export const NOW = new Date('2025-06-01T12:00:00Z');
export const fixedClock: Clock = () => NOW;

export function verifierFor(pki: TestPki, overrides: Partial<SignedDataVerifierOptions> = {}) {
  return createSignedDataVerifier({
    rootCertificates: [pki.rootDer],
    bundleId: BUNDLE_ID,
    appAppleId: APP_APPLE_ID,
    environments: ['Sandbox', 'Production'],
    onlineChecks: false,
    clock: fixedClock,
    ...overrides,
  });
}

/** The VerificationError code a verification fails with, or 'ACCEPTED'. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VerificationError) return error.code;
    throw error;
  }
  return 'ACCEPTED';
}

export async function errorOf(promise: Promise<unknown>): Promise<VerificationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VerificationError) return error;
    throw error;
  }
  throw new Error('expected a VerificationError, but verification succeeded');
}

export function transaction(overrides: Record<string, unknown> = {}) {
  return {
    transactionId: '1000',
    originalTransactionId: '1000',
    bundleId: BUNDLE_ID,
    productId: 'com.example.monthly',
    purchaseDate: NOW.getTime() - 1000,
    type: 'Auto-Renewable Subscription',
    signedDate: NOW.getTime(),
    environment: 'Sandbox',
    ...overrides,
  };
}

export function renewalInfo(overrides: Record<string, unknown> = {}) {
  return {
    originalTransactionId: '1000',
    productId: 'com.example.monthly',
    autoRenewProductId: 'com.example.monthly',
    autoRenewStatus: 1,
    signedDate: NOW.getTime(),
    environment: 'Sandbox',
    ...overrides,
  };
}

export function notification(overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    notificationType: 'DID_RENEW',
    notificationUUID: '6f1a2d1e-0000-4000-8000-000000000001',
    signedDate: NOW.getTime(),
    version: '2.0',
    data: { bundleId: BUNDLE_ID, appAppleId: APP_APPLE_ID, environment: 'Sandbox', ...data },
    ...overrides,
  };
}

/** A signed Production TEST notification of `bundleId` (with `appAppleId`, when given), its transaction and renewal info Production too. */
export function productionTestNotification(pki: TestPki, bundleId: string, appAppleId?: number): string {
  return signNotification(pki, {
    notificationType: 'TEST',
    bundleId,
    ...(appAppleId !== undefined ? { appAppleId } : {}),
    environment: 'Production',
    transaction: { environment: 'Production' },
    renewalInfo: { environment: 'Production' },
  });
}
