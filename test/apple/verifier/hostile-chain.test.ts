// A JWS costs its sender nothing to make; checking one must cost the service little more
// than reading it until the chain is known to come from the trusted root.
import { AsnConvert } from '@peculiar/asn1-schema';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_CERTIFICATE_BYTES, MAX_HEADER_CHARS } from '../../../src/apple/verifier/jws.js';
import { createBloatedCertificate, createTestPki, type TestPki } from '../../helpers/pki.js';
import { errorOf, transaction, verifierFor } from './support.js';

describe('hostile x5c chains', () => {
  let pki: TestPki;
  let bloated: Buffer;
  let oversize: Buffer;
  beforeAll(async () => {
    pki = await createTestPki();
    // Under the size cap but stuffed with extensions, as an attacker would make it.
    bloated = await createBloatedCertificate(400);
    oversize = await createBloatedCertificate(700);
  });
  afterEach(() => vi.restoreAllMocks());

  it('builds its hostile certificates on both sides of the size cap', () => {
    expect(bloated.length).toBeLessThanOrEqual(MAX_CERTIFICATE_BYTES);
    expect(oversize.length).toBeGreaterThan(MAX_CERTIFICATE_BYTES);
  });

  it('rejects a stuffed intermediate under the genuine root without parsing its extensions', async () => {
    const verifier = verifierFor(pki);
    const parse = vi.spyOn(AsnConvert, 'parse');
    const jws = pki.sign(transaction(), { x5c: ['MIIB', bloated.toString('base64'), pki.x5c[2]] });
    const error = await errorOf(verifier.verifyTransaction(jws));
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/intermediate certificate/);
    expect(parse).not.toHaveBeenCalled();
  });

  it('rejects an x5c entry over the size cap by its size alone', async () => {
    const verifier = verifierFor(pki);
    const parse = vi.spyOn(AsnConvert, 'parse');
    const jws = pki.sign(transaction(), { x5c: ['MIIB', oversize.toString('base64'), pki.x5c[2]] });
    const error = await errorOf(verifier.verifyTransaction(jws));
    expect(error.code).toBe('MALFORMED_JWS');
    expect(error.message).toMatch(new RegExp(`x5c\\[1\\] .*over the limit of ${MAX_CERTIFICATE_BYTES} bytes`));
    expect(parse).not.toHaveBeenCalled();
  });

  it('rejects an oversize root entry by size before comparing it with the trusted roots', async () => {
    const jws = pki.sign(transaction(), { x5c: [pki.x5c[0], pki.x5c[1], oversize.toString('base64')] });
    const error = await errorOf(verifierFor(pki).verifyTransaction(jws));
    expect(error.code).toBe('MALFORMED_JWS');
    expect(error.message).toMatch(/x5c\[2\]/);
  });

  it('rejects a header over the size cap before decoding it', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', x5c: pki.x5c, pad: 'x'.repeat(MAX_HEADER_CHARS) }));
    const jws = `${header.toString('base64url')}.${Buffer.from('{}').toString('base64url')}.${'A'.repeat(86)}`;
    const error = await errorOf(verifierFor(pki).verifyTransaction(jws));
    expect(error.code).toBe('MALFORMED_JWS');
    expect(error.message).toMatch(/header is .* over the limit/);
  });

  it('rejects an untrusted root before parsing any certificate', async () => {
    const other = await createTestPki();
    const verifier = verifierFor(pki);
    const parse = vi.spyOn(AsnConvert, 'parse');
    const error = await errorOf(verifier.verifyTransaction(other.sign(transaction())));
    expect(error.code).toBe('UNTRUSTED_ROOT');
    expect(parse).not.toHaveBeenCalled();
  });

  it('parses a genuine chain once, then answers from the chain cache without parsing', async () => {
    const verifier = verifierFor(pki);
    await verifier.verifyTransaction(pki.sign(transaction()));
    const parse = vi.spyOn(AsnConvert, 'parse');
    await verifier.verifyTransaction(pki.sign(transaction({ transactionId: '1001' })));
    expect(parse).not.toHaveBeenCalled();
  });

  it('rejects an intermediate signed with anything but ECDSA and SHA-2 before parsing it', async () => {
    const verifier = verifierFor(pki);
    // ecdsa-with-SHA256 (…04 03 02) turned into ecdsa-with-SHA224 (…04 03 01), everywhere it appears.
    const sha224 = Buffer.from(pki.intermediateDer.toString('hex').replaceAll('2a8648ce3d040302', '2a8648ce3d040301'), 'hex');
    const parse = vi.spyOn(AsnConvert, 'parse');
    const jws = pki.sign(transaction(), { x5c: [pki.x5c[0], sha224.toString('base64'), pki.x5c[2]] });
    const error = await errorOf(verifier.verifyTransaction(jws));
    expect(error.code).toBe('INVALID_CHAIN');
    expect(error.message).toMatch(/intermediate certificate is not signed with ECDSA and SHA-2/);
    expect(parse).not.toHaveBeenCalled();
  });
});
