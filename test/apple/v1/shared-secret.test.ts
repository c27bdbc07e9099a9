import { describe, expect, it } from 'vitest';
import { sharedSecretMatches } from '../../../src/apple/v1/index.js';

describe('sharedSecretMatches', () => {
  const secret = 'c0ffee0123456789abcdef0123456789';

  it('accepts exactly the shared secret', () => {
    expect(sharedSecretMatches(secret, secret)).toBe(true);
  });

  it('refuses a different secret, a prefix, a longer string and a different case', () => {
    expect(sharedSecretMatches('wrong', secret)).toBe(false);
    expect(sharedSecretMatches(secret.slice(0, -1), secret)).toBe(false);
    expect(sharedSecretMatches(`${secret}0`, secret)).toBe(false);
    expect(sharedSecretMatches(secret.toUpperCase(), secret)).toBe(false);
  });

  it('refuses values that are not strings', () => {
    for (const given of [undefined, null, 42, ['x'], { secret }]) expect(sharedSecretMatches(given, secret)).toBe(false);
  });

  it('never matches when the configured secret is empty', () => {
    expect(sharedSecretMatches('', '')).toBe(false);
  });
});
