import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOcspResponder, type OcspResponder } from '../../helpers/ocsp-responder.js';
import { createTestPki, type TestPki } from '../../helpers/pki.js';
import { codeOf, errorOf, NOW, transaction, verifierFor } from './support.js';

describe('online checks with OCSP', () => {
  let responder: OcspResponder;
  let pki: TestPki;
  let now: Date;

  beforeAll(async () => {
    responder = await createOcspResponder();
    pki = await createTestPki({ ocspUrl: responder.url });
    await responder.register(pki);
  });
  afterAll(async () => {
    await responder.close();
  });

  function reset(mode: OcspResponder['mode'] = 'good') {
    now = NOW;
    responder.mode = mode;
    responder.modeFor = {};
    responder.clock = () => now;
    responder.requests = { leaf: 0, intermediate: 0, unknown: 0 };
    return verifierFor(pki, { onlineChecks: true, clock: () => now, ocspTimeoutMs: 2_000 });
  }

  it('accepts a chain whose leaf and intermediate the responder calls good', async () => {
    const verifier = reset();
    expect(await codeOf(verifier.verifyTransaction(pki.sign(transaction())))).toBe('ACCEPTED');
    expect(responder.requests).toEqual({ leaf: 1, intermediate: 1, unknown: 0 });
  });

  it('reuses good answers until nextUpdate, then asks again', async () => {
    const verifier = reset();
    responder.validityMs = 10 * 60_000;
    await verifier.verifyTransaction(pki.sign(transaction()));
    now = new Date(NOW.getTime() + 5 * 60_000);
    await verifier.verifyTransaction(pki.sign(transaction()));
    expect(responder.requests.leaf).toBe(1);
    now = new Date(NOW.getTime() + 11 * 60_000);
    await verifier.verifyTransaction(pki.sign(transaction()));
    expect(responder.requests.leaf).toBe(2);
    expect(responder.requests.intermediate).toBe(2);
    responder.validityMs = 60 * 60_000;
  });

  it('asks once for concurrent first sightings of a chain', async () => {
    const verifier = reset();
    await Promise.all(Array.from({ length: 5 }, () => verifier.verifyTransaction(pki.sign(transaction()))));
    expect(responder.requests).toEqual({ leaf: 1, intermediate: 1, unknown: 0 });
  });

  it('rejects a revoked leaf permanently', async () => {
    const verifier = reset();
    responder.modeFor.leaf = 'revoked';
    const error = await errorOf(verifier.verifyTransaction(pki.sign(transaction())));
    expect(error.code).toBe('CERTIFICATE_REVOKED');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/leaf certificate was revoked/);
  });

  it('rejects a revoked intermediate', async () => {
    const verifier = reset();
    responder.modeFor.intermediate = 'revoked';
    const error = await errorOf(verifier.verifyTransaction(pki.sign(transaction())));
    expect(error.code).toBe('CERTIFICATE_REVOKED');
    expect(error.message).toMatch(/intermediate certificate was revoked/);
  });

  it('rejects a stale answer whose nextUpdate has passed', async () => {
    const error = await errorOf(reset('stale').verifyTransaction(pki.sign(transaction())));
    expect(error.code).toBe('OCSP_INVALID');
    expect(error.message).toMatch(/stale/);
  });

  it('rejects an answer from a responder whose clock is ahead (thisUpdate in the future)', async () => {
    const verifier = reset();
    responder.clock = () => new Date(NOW.getTime() + 10 * 60_000);
    expect(await codeOf(verifier.verifyTransaction(pki.sign(transaction())))).toBe('OCSP_INVALID');
  });

  it('rejects an answer signed by a key the issuer never certified', async () => {
    const error = await errorOf(reset('wrongly-signed').verifyTransaction(pki.sign(transaction())));
    expect(error.code).toBe('OCSP_INVALID');
    expect(error.message).toMatch(/signature does not verify/);
  });

  it('accepts an answer from a delegated responder with the OCSP-signing EKU', async () => {
    expect(await codeOf(reset('delegated').verifyTransaction(pki.sign(transaction())))).toBe('ACCEPTED');
  });

  it('rejects a delegated responder without the OCSP-signing EKU', async () => {
    const error = await errorOf(reset('delegated-without-eku').verifyTransaction(pki.sign(transaction())));
    expect(error.code).toBe('OCSP_INVALID');
    expect(error.message).toMatch(/OCSP-signing/);
  });

  it('rejects an answer about another certificate', async () => {
    const error = await errorOf(reset('wrong-cert-id').verifyTransaction(pki.sign(transaction())));
    expect(error.code).toBe('OCSP_INVALID');
    expect(error.message).toMatch(/CertID/);
  });

  it('rejects a certificate the responder does not know', async () => {
    expect(await codeOf(reset('unknown').verifyTransaction(pki.sign(transaction())))).toBe('OCSP_INVALID');
  });

  it('treats HTTP errors and tryLater as a retryable unavailability', async () => {
    for (const mode of ['http-error', 'try-later'] as const) {
      const error = await errorOf(reset(mode).verifyTransaction(pki.sign(transaction())));
      expect(error.code, mode).toBe('OCSP_UNAVAILABLE');
      expect(error.retryable).toBe(true);
    }
  });

  it('does not cache a refusal: a later good answer is accepted', async () => {
    const verifier = reset('http-error');
    expect(await codeOf(verifier.verifyTransaction(pki.sign(transaction())))).toBe('OCSP_UNAVAILABLE');
    responder.mode = 'good';
    expect(await codeOf(verifier.verifyTransaction(pki.sign(transaction())))).toBe('ACCEPTED');
  });

  it('treats a responder that cannot be reached as a retryable unavailability', async () => {
    const gone = await createOcspResponder();
    const orphan = await createTestPki({ ocspUrl: gone.url, reuseRootFrom: pki });
    await gone.close();
    const verifier = verifierFor(orphan, { onlineChecks: true, clock: () => NOW, ocspTimeoutMs: 2_000 });
    const error = await errorOf(verifier.verifyTransaction(orphan.sign(transaction())));
    expect(error.code).toBe('OCSP_UNAVAILABLE');
    expect(error.retryable).toBe(true);
  });

  it('rejects a certificate that names no OCSP responder when online checks are on', async () => {
    const noAia = await createTestPki();
    const verifier = verifierFor(noAia, { onlineChecks: true, clock: () => NOW });
    expect(await codeOf(verifier.verifyTransaction(noAia.sign(transaction())))).toBe('OCSP_INVALID');
  });

  it('does not let a cached chain outlive its leaf', async () => {
    const shortLived = await createTestPki({
      ocspUrl: responder.url,
      reuseIntermediateFrom: pki,
      notAfter: new Date(NOW.getTime() + 60 * 60_000),
    });
    await responder.register(shortLived);
    const verifier = reset();
    expect(await codeOf(verifier.verifyTransaction(shortLived.sign(transaction())))).toBe('ACCEPTED');
    now = new Date(NOW.getTime() + 2 * 60 * 60_000);
    responder.clock = () => now;
    expect(await codeOf(verifier.verifyTransaction(shortLived.sign(transaction())))).toBe('CERTIFICATE_EXPIRED');
  });
});
