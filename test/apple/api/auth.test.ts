import { decodeJwt, decodeProtectedHeader, exportPKCS8, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { AppStoreApiError, TOKEN_AUDIENCE } from '../../../src/apple/api/index.js';
import { useApiDouble } from './fixture.js';

describe('App Store Server API authentication', () => {
  const fixture = useApiDouble();

  it('signs an ES256 JWT with kid, typ, iss, aud, bid, iat and an expiry under an hour', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    await fixture
      .client({ clock: () => now })
      .forEnvironment('Production')
      .getTransactionInfo('1');
    const token = fixture.double.requests[0]?.token ?? '';
    const { credentials } = fixture.double;

    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: credentials.keyId, typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: credentials.issuerId, aud: TOKEN_AUDIENCE, bid: credentials.bundleId });
    expect(claims.iat).toBe(now.getTime() / 1000);
    expect(claims.exp! - claims.iat!).toBeGreaterThan(0);
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(3600);
  });

  it('the double accepted the token: signature, kid, iss, aud, bid and exp all checked', async () => {
    await fixture.client().forEnvironment('Sandbox').getTransactionInfo('1');
    expect(fixture.double.rejected).toEqual([]);
    expect(fixture.double.requests).toHaveLength(1);
  });

  it('reuses one token across calls and both environments until shortly before it expires', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const api = fixture.client({ clock: () => now });
    await api.forEnvironment('Production').getTransactionInfo('1');
    now = new Date('2030-01-01T00:10:00Z');
    await api.forEnvironment('Sandbox').getTransactionInfo('1');
    now = new Date('2030-01-01T00:18:59Z');
    await api.forEnvironment('Production').getTransactionInfo('1');
    // 20-minute token, renewed during its last minute.
    now = new Date('2030-01-01T00:19:01Z');
    await api.forEnvironment('Production').getTransactionInfo('1');

    const tokens = fixture.double.requests.map((r) => r.token);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[0]).toBe(tokens[2]);
    expect(tokens[3]).not.toBe(tokens[0]);
    expect(decodeJwt(tokens[3]!).iat).toBe(Date.parse('2030-01-01T00:19:01Z') / 1000);
  });

  it('signs once for many concurrent first calls', async () => {
    const api = fixture.client().forEnvironment('Production');
    await Promise.all(Array.from({ length: 5 }, (_, i) => api.getTransactionInfo(String(i + 1))));
    expect(new Set(fixture.double.requests.map((r) => r.token)).size).toBe(1);
  });

  it('surfaces Apple rejecting the token as a non-retried 401', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const api = fixture.client({ privateKey: await exportPKCS8(privateKey) }).forEnvironment('Production');

    const error = await api.getTransactionInfo('1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppStoreApiError);
    expect(error).toMatchObject({ code: 'API_ERROR', httpStatus: 401, apiError: null, retryable: false });
    expect(fixture.double.rejected).toHaveLength(1);
    expect(fixture.double.rejected[0]?.reason).toMatch(/signature/);
  });

  it('is rejected by the double when the bundle id differs', async () => {
    const api = fixture.client({ bundleId: 'com.other.app' }).forEnvironment('Production');
    await expect(api.getTransactionInfo('1')).rejects.toMatchObject({ httpStatus: 401 });
    expect(fixture.double.rejected[0]?.reason).toMatch(/bid/);
  });

  it('is rejected by the double when the key id differs', async () => {
    const api = fixture.client({ keyId: 'OTHERKEY' }).forEnvironment('Production');
    await expect(api.getTransactionInfo('1')).rejects.toMatchObject({ httpStatus: 401 });
    expect(fixture.double.rejected[0]?.reason).toMatch(/kid/);
  });

  it('refuses a token lifetime over the hour Apple allows', () => {
    expect(() => fixture.client({ tokenLifetimeSeconds: 3601 })).toThrow(RangeError);
  });
});
