// Which app a notification is for, read from its unverified payload only to choose the
// app whose verifier then checks it strictly (SPEC "Several apps"): nothing here is trusted.

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The bundle id a V2 notification's payload names (`data`, `summary` or `externalPurchaseToken`), or null when it names none or is no JWS. */
export function claimedBundleId(signedPayload: string): string | null {
  const parts = signedPayload.split('.');
  if (parts.length !== 3) return null;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
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
