// Whether a payload belongs to the configured app and an accepted environment.
import type { ResponseBodyV2DecodedPayload } from '../types.js';
import { VerificationError } from './errors.js';
import { isObject } from './payload.js';

export interface AppIdentity {
  bundleId: string;
  appAppleId?: number;
  environments: readonly string[];
}

export interface ClaimedIdentity {
  bundleId?: unknown;
  appAppleId?: unknown;
  environment?: unknown;
}

/**
 * `checkAppAppleId` is false for transactions and renewal infos, which do not carry
 * the app's Apple ID.
 */
export function checkIdentity(expected: AppIdentity, claimed: ClaimedIdentity, what: string, checkAppAppleId: boolean) {
  const { environment, bundleId, appAppleId } = claimed;
  if (typeof environment !== 'string' || !expected.environments.includes(environment)) {
    throw new VerificationError('WRONG_ENVIRONMENT', `${what} environment ${JSON.stringify(environment)} is not one of ${expected.environments.join(', ')}`);
  }
  if (bundleId !== undefined || checkAppAppleId) {
    if (bundleId !== expected.bundleId) {
      throw new VerificationError('WRONG_BUNDLE_ID', `${what} bundleId ${JSON.stringify(bundleId)} is not ${JSON.stringify(expected.bundleId)}`);
    }
  }
  if (checkAppAppleId && environment === 'Production') {
    if (expected.appAppleId === undefined) {
      throw new VerificationError('WRONG_APP_APPLE_ID', `${what} is from Production but no appAppleId is configured to check it against`);
    }
    if (appAppleId !== expected.appAppleId) {
      throw new VerificationError('WRONG_APP_APPLE_ID', `${what} appAppleId ${JSON.stringify(appAppleId)} is not ${expected.appAppleId}`);
    }
  }
}

/** The app a notification speaks for: from data, else summary, else externalPurchaseToken, else appData. */
export function notificationIdentity(payload: ResponseBodyV2DecodedPayload): ClaimedIdentity {
  const { data, summary, externalPurchaseToken, appData } = payload;
  if (isObject(data)) return data;
  if (isObject(summary)) return summary;
  if (isObject(externalPurchaseToken)) {
    // The token carries no environment field; Apple marks sandbox tokens by this prefix.
    const id = externalPurchaseToken.externalPurchaseId;
    const environment = typeof id === 'string' && id.startsWith('SANDBOX') ? 'Sandbox' : 'Production';
    return { ...externalPurchaseToken, environment };
  }
  if (isObject(appData)) return appData;
  throw new VerificationError('MALFORMED_PAYLOAD', 'notification payload: carries none of data, summary, externalPurchaseToken or appData');
}
