import { createHash } from 'node:crypto';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/**
 * V1 bodies have no notification id and Apple retries by resending the same body, so the
 * body itself is the id: SHA-256 (hex) of its JSON with keys sorted at every level. The
 * password is left out so rotating the shared secret does not make a resend look new.
 */
export function v1DedupKey(body: Record<string, unknown>): string {
  const { password: _password, ...rest } = body;
  return createHash('sha256')
    .update(JSON.stringify(canonical(rest)))
    .digest('hex');
}
