import { beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { codeOf, errorOf, NOW, transaction, verifierFor } from './support.js';

describe('the x5c chain check', () => {
  let pki: TestPki;
  let impostor: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
    // Same subject and issuer names as `pki`, different keys.
    impostor = await createTestPki();
  });

  it('accepts a transaction signed by a leaf under the trusted root', async () => {
    const result = await verifierFor(pki).verifyTransaction(pki.sign(transaction()));
    expect(result.transactionId).toBe('1000');
  });

  it('rejects every alg other than ES256, none included', async () => {
    for (const alg of ['none', 'ES384', 'HS256', 'RS256', 'es256']) {
      const jws = pki.sign(transaction(), { alg });
      expect(await codeOf(verifierFor(pki).verifyTransaction(jws)), alg).toBe('UNSUPPORTED_ALGORITHM');
    }
  });

  it('rejects input that is not a compact JWS', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', x5c: pki.x5c })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(transaction())).toString('base64url');
    const cases = [
      '',
      'abc',
      `${header}.${payload}`,
      `${header}.${payload}.sig.extra`,
      `bm90IGpzb24.${payload}.AAAA`,
      `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${payload}.AAAA`,
      `${Buffer.from(JSON.stringify({ alg: 'ES256', x5c: [1, 2, 3] })).toString('base64url')}.${payload}.AAAA`,
    ];
    for (const jws of cases) expect(await codeOf(verifierFor(pki).verifyTransaction(jws)), jws).toBe('MALFORMED_JWS');
  });

  it('rejects an x5c of other than three certificates', async () => {
    const [leaf, intermediate, root] = pki.x5c as [string, string, string];
    for (const x5c of [[leaf, intermediate], [leaf, intermediate, root, root], [leaf]]) {
      const jws = pki.sign(transaction(), { x5c });
      expect(await codeOf(verifierFor(pki).verifyTransaction(jws))).toBe('INVALID_CHAIN_LENGTH');
    }
  });

  it('rejects a chain that ends in another root with the same names', async () => {
    const error = await errorOf(verifierFor(pki).verifyTransaction(impostor.sign(transaction())));
    expect(error.code).toBe('UNTRUSTED_ROOT');
    expect(error.retryable).toBe(false);
  });

  it('rejects a valid leaf and intermediate followed by something other than the trusted root', async () => {
    const [leaf, intermediate] = pki.x5c as [string, string, string];
    const garbage = Buffer.from('definitely not a certificate').toString('base64');
    for (const root of [garbage, impostor.x5c[2] ?? '']) {
      const jws = pki.sign(transaction(), { x5c: [leaf, intermediate, root] });
      expect(await codeOf(verifierFor(pki).verifyTransaction(jws))).toBe('UNTRUSTED_ROOT');
    }
  });

  it('rejects an intermediate that the trusted root did not sign, though the names chain', async () => {
    const jws = impostor.sign(transaction(), { x5c: [impostor.x5c[0], impostor.x5c[1], pki.x5c[2]] });
    const error = await errorOf(verifierFor(pki).verifyTransaction(jws));
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/intermediate certificate is not signed by the root/);
  });

  it('rejects a leaf that the intermediate did not sign, though the names chain', async () => {
    const jws = impostor.sign(transaction(), { x5c: [impostor.x5c[0], pki.x5c[1], pki.x5c[2]] });
    const error = await errorOf(verifierFor(pki).verifyTransaction(jws));
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/leaf certificate is not signed by the intermediate/);
  });

  it('rejects a certificate in x5c that is not DER', async () => {
    const junk = Buffer.from('junk certificate bytes').toString('base64');
    const jws = pki.sign(transaction(), { x5c: [junk, pki.x5c[1], pki.x5c[2]] });
    expect(await codeOf(verifierFor(pki).verifyTransaction(jws))).toBe('INVALID_CHAIN');
  });

  it('rejects a signature that does not verify with the leaf key', async () => {
    const good = pki.sign(transaction());
    const [header, , signature] = good.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify(transaction({ productId: 'com.example.lifetime' }))).toString('base64url');
    expect(await codeOf(verifierFor(pki).verifyTransaction(`${header}.${forged}.${signature}`))).toBe('INVALID_SIGNATURE');
    // The impostor's leaf key signing under the genuine chain's x5c.
    const [, payload, otherSignature] = impostor.sign(transaction(), { x5c: pki.x5c }).split('.') as [string, string, string];
    expect(await codeOf(verifierFor(pki).verifyTransaction(`${header}.${payload}.${otherSignature}`))).toBe('INVALID_SIGNATURE');
    expect(await codeOf(verifierFor(pki).verifyTransaction(`${header}.${payload}.AAAA`))).toBe('INVALID_SIGNATURE');
  });
});

describe('broken variants of the Apple chain', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  async function rejectionOf(options: Parameters<typeof createTestPki>[0]) {
    const broken = await createTestPki(options);
    return errorOf(verifierFor(broken).verifyTransaction(broken.sign(transaction())));
  }

  it('rejects an intermediate without Apple marker 1.2.840.113635.100.6.2.1', async () => {
    const error = await rejectionOf({ omitIntermediateMarker: true });
    expect(error.code).toBe('MISSING_APPLE_MARKER');
    expect(error.message).toContain('1.2.840.113635.100.6.2.1');
  });

  it('rejects a leaf without Apple marker 1.2.840.113635.100.6.11.1', async () => {
    const error = await rejectionOf({ omitLeafMarker: true });
    expect(error.code).toBe('MISSING_APPLE_MARKER');
    expect(error.message).toContain('1.2.840.113635.100.6.11.1');
  });

  it('rejects a leaf that is a CA', async () => {
    const error = await rejectionOf({ leafIsCa: true });
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/leaf certificate is a CA/);
  });

  it('rejects an intermediate that is not a CA', async () => {
    const error = await rejectionOf({ intermediateNotCa: true });
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/intermediate certificate is not a CA/);
  });

  it('rejects a leaf whose key usage does not allow signatures', async () => {
    const error = await rejectionOf({ leafWrongKeyUsage: true });
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/digitalSignature/);
  });

  it('rejects an intermediate whose key usage does not allow signing certificates', async () => {
    const error = await rejectionOf({ intermediateWrongKeyUsage: true });
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/keyCertSign/);
  });

  describe('validity at signedDate when online checks are off', () => {
    let shortLived: TestPki;
    const notBefore = new Date('2022-01-01T00:00:00Z');
    const notAfter = new Date('2023-01-01T00:00:00Z');
    beforeAll(async () => {
      shortLived = await createTestPki({ reuseIntermediateFrom: pki, notBefore, notAfter });
    });

    it('accepts a payload signed while the leaf was valid, whatever the date today', async () => {
      const jws = shortLived.sign(transaction({ signedDate: Date.parse('2022-06-01T00:00:00Z') }));
      expect(await codeOf(verifierFor(shortLived).verifyTransaction(jws))).toBe('ACCEPTED');
    });

    it('rejects a payload signed after the leaf expired, beyond 60 s of skew', async () => {
      const verifier = verifierFor(shortLived);
      const late = shortLived.sign(transaction({ signedDate: notAfter.getTime() + 61_000 }));
      const justLate = shortLived.sign(transaction({ signedDate: notAfter.getTime() + 59_000 }));
      const error = await errorOf(verifier.verifyTransaction(late));
      expect(error.code).toBe('CERTIFICATE_EXPIRED');
      expect(error.message).toMatch(/leaf certificate has expired at signedDate/);
      expect(await codeOf(verifier.verifyTransaction(justLate))).toBe('ACCEPTED');
    });

    it('rejects a payload signed before the leaf became valid', async () => {
      const early = shortLived.sign(transaction({ signedDate: notBefore.getTime() - 61_000 }));
      expect(await codeOf(verifierFor(shortLived).verifyTransaction(early))).toBe('CERTIFICATE_EXPIRED');
    });

    it('still checks signedDate when the chain comes from the cache', async () => {
      const verifier = verifierFor(shortLived);
      const inside = shortLived.sign(transaction({ signedDate: Date.parse('2022-06-01T00:00:00Z') }));
      const outside = shortLived.sign(transaction({ signedDate: Date.parse('2024-06-01T00:00:00Z') }));
      expect(await codeOf(verifier.verifyTransaction(inside))).toBe('ACCEPTED');
      expect(await codeOf(verifier.verifyTransaction(outside))).toBe('CERTIFICATE_EXPIRED');
    });

    it('rejects a payload without signedDate, which validity cannot be checked against', async () => {
      const { signedDate: _omitted, ...rest } = transaction();
      expect(await codeOf(verifierFor(pki).verifyTransaction(pki.sign(rest)))).toBe('MALFORMED_PAYLOAD');
    });

    it('rejects an expired intermediate at signedDate', async () => {
      const oldIntermediate = await createTestPki({
        intermediateValidity: { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') },
      });
      const error = await errorOf(verifierFor(oldIntermediate).verifyTransaction(oldIntermediate.sign(transaction())));
      expect(error.code).toBe('CERTIFICATE_EXPIRED');
      expect(error.message).toMatch(/intermediate certificate has expired/);
    });
  });

  it('checks validity at the current time when online checks are on', async () => {
    const expired = await createTestPki({
      reuseIntermediateFrom: pki,
      notBefore: new Date('2022-01-01T00:00:00Z'),
      notAfter: new Date('2023-01-01T00:00:00Z'),
    });
    const fetchMustNotRun: typeof fetch = async () => {
      throw new Error('OCSP must not be asked about an expired chain');
    };
    // Signed while valid, but verified now (NOW is 2025).
    const jws = expired.sign(transaction({ signedDate: Date.parse('2022-06-01T00:00:00Z') }));
    const verifier = verifierFor(expired, { onlineChecks: true, fetch: fetchMustNotRun, clock: () => NOW });
    const error = await errorOf(verifier.verifyTransaction(jws));
    expect(error.code).toBe('CERTIFICATE_EXPIRED');
    expect(error.message).toMatch(/at now/);
  });
});
