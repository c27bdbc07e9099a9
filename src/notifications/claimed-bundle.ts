// Which app a notification is for, read from its unverified payload only to choose the
// app whose verifier then checks it strictly (SPEC "Several apps"): nothing here is trusted.

import type { UnverifiedPayload } from '../apple/types.js';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The bundle id a V2 notification's payload names (`data`, `summary` or `externalPurchaseToken`),
 * or null when it names none or is no JWS. The payload is read once, by `readUnverifiedPayload`,
 * and the chosen app's verifier reuses that read after checking the signature.
 */
export function claimedBundleId({ payload }: UnverifiedPayload): string | null {
  if (!isObject(payload)) return null;
  for (const part of ['data', 'summary', 'externalPurchaseToken']) {
    const section = payload[part];
    if (isObject(section) && typeof section.bundleId === 'string') return section.bundleId;
  }
  return null;
}

/** The `bid` of a V1 body, or null. */
export function claimedV1BundleId(body: unknown): string | null {
  return isObject(body) && typeof body.bid === 'string' ? body.bid : null;
}
