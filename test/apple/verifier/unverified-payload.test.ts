// The webhook reads a notification's payload once, before verification, to choose the app;
// the verifier reuses that read only for the very JWS it checks, and checks everything as before.
import { beforeAll, describe, expect, it } from 'vitest';
import { readUnverifiedPayload } from '../../../src/apple/verifier/index.js';
import { createTestPki, signCompactJws, type TestPki } from '../../helpers/pki.js';
import { codeOf, notification, verifierFor } from './support.js';

describe('a payload read before verification', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });

  it('is reused by the verifier for the JWS it was read from, instead of a second decode', async () => {
    const signed = pki.sign(notification());
    const unverified = readUnverifiedPayload(signed);
    const verified = await verifierFor(pki).verifyNotification(signed, unverified);
    expect(verified.payload).toBe(unverified.payload);
    expect(verified.payload.notificationUUID).toBe(notification().notificationUUID);
  });

  it('is ignored when it was read from another JWS: the verifier decodes what it verified', async () => {
    const signed = pki.sign(notification());
    const other = readUnverifiedPayload(pki.sign(notification({ notificationUUID: '6f1a2d1e-0000-4000-8000-0000000000ff' })));
    const verified = await verifierFor(pki).verifyNotification(signed, other);
    expect(verified.payload).not.toBe(other.payload);
    expect(verified.payload.notificationUUID).toBe(notification().notificationUUID);
  });

  it('does not spare a forged payload the signature check', async () => {
    const [header, , signature] = pki.sign(notification()).split('.');
    const forgedPayload = Buffer.from(JSON.stringify(notification({ notificationType: 'REFUND' }))).toString('base64url');
    const forged = `${header}.${forgedPayload}.${signature}`;
    expect(await codeOf(verifierFor(pki).verifyNotification(forged, readUnverifiedPayload(forged)))).toBe('INVALID_SIGNATURE');
  });

  it('leaves a signed payload that is no JSON object to fail as MALFORMED_PAYLOAD', async () => {
    const header = { alg: 'ES256', x5c: pki.x5c };
    for (const body of ['[1,2]', '"text"', 'not json']) {
      const jws = signCompactJws(pki.leafPrivateKey, header, body);
      expect(await codeOf(verifierFor(pki).verifyNotification(jws, readUnverifiedPayload(jws))), body).toBe('MALFORMED_PAYLOAD');
    }
  });

  it('counts parts as split does: anything but three parts reads as no payload', () => {
    const empty = Buffer.from('{}').toString('base64url');
    expect(readUnverifiedPayload(`.${empty}.`).payload).toEqual({});
    expect(readUnverifiedPayload(`a.${empty}`).payload).toBeUndefined();
    expect(readUnverifiedPayload(`a.${empty}.b.c`).payload).toBeUndefined();
    expect(readUnverifiedPayload('no dots').payload).toBeUndefined();
    expect(readUnverifiedPayload('a.!!!.b').payload).toBeUndefined();
  });
});
