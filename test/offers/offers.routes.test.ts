import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import {
  IntroductoryOfferEligibilitySignatureCreator,
  PromotionalOfferSignatureCreator,
  PromotionalOfferV2SignatureCreator,
} from '@apple/app-store-server-library';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { authHeader, TEST_BUNDLE_ID } from '../helpers/app.js';
import { useDatabaseAndPki, useTestApp } from '../helpers/fixtures.js';

const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const OFFER_PEM = keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const api = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const API_PEM = api.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const OFFER_KEY_ID = 'OFFERKEY01';
const ISSUER_ID = '57246542-96fe-1a63-e053-0824d011072a';
const TOKEN = '7E3FB20B-4CDB-47CC-936D-99D65F608138';
const SEP = '\u2063';
const NOW = Date.parse('2026-12-01T10:00:00Z');

/** The string Apple documents, built here independently of the service's code. */
const applePayload = (keyId: string, productId: string, offerId: string, token: string, nonce: string, timestamp: number) =>
  `${TEST_BUNDLE_ID}${SEP}${keyId}${SEP}${productId}${SEP}${offerId}${SEP}${token.toLowerCase()}${SEP}${nonce.toLowerCase()}${SEP}${timestamp}`;

const verifies = (publicKey: Parameters<typeof verify>[2], payload: string, signature: string) =>
  verify('SHA256', Buffer.from(payload, 'utf8'), publicKey, Buffer.from(signature, 'base64'));

describe('POST /offers/promotional-signature and /offers/signed', () => {
  // One database for the four configurations: offers write nothing, and each migration costs seconds.
  const shared = useDatabaseAndPki();
  const clock = () => new Date(NOW);
  const t = useTestApp(() => ({
    database: shared.database,
    pki: shared.pki,
    clock,
    env: { APPLE_OFFER_KEY_ID: OFFER_KEY_ID, APPLE_OFFER_PRIVATE_KEY: OFFER_PEM, APPLE_ISSUER_ID: ISSUER_ID },
  }));
  const byApiKey = useTestApp(() => ({
    database: shared.database,
    pki: shared.pki,
    clock,
    env: { APPLE_ISSUER_ID: ISSUER_ID, APPLE_KEY_ID: 'APIKEY0001', APPLE_PRIVATE_KEY: API_PEM },
  }));
  const withoutKey = useTestApp(() => ({ database: shared.database, pki: shared.pki, clock }));
  const withoutIssuer = useTestApp(() => ({
    database: shared.database,
    pki: shared.pki,
    clock,
    env: { APPLE_OFFER_KEY_ID: OFFER_KEY_ID, APPLE_OFFER_PRIVATE_KEY: OFFER_PEM },
  }));

  const post = (app: typeof t, url: string, payload: object, headers = authHeader()) => app.app.inject({ method: 'POST', url, headers, payload });

  it("signs Apple's promotional offer string with the offer key: it verifies with the public key, with a fresh lowercase nonce and the time", async () => {
    const response = await post(t, '/offers/promotional-signature', { productId: 'com.example.pro.monthly', offerId: 'winback_50', appAccountToken: TOKEN });

    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ keyIdentifier: OFFER_KEY_ID, timestamp: NOW });
    expect(body.nonce).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const payload = applePayload(OFFER_KEY_ID, 'com.example.pro.monthly', 'winback_50', TOKEN, body.nonce, NOW);
    expect(verifies(keys.publicKey, payload, body.signature)).toBe(true);
    // Not over the token as given (uppercase), nor with another key.
    expect(verifies(keys.publicKey, payload.replace(TOKEN.toLowerCase(), TOKEN), body.signature)).toBe(false);
    expect(verifies(api.publicKey, payload, body.signature)).toBe(false);

    const again = (await post(t, '/offers/promotional-signature', { productId: 'com.example.pro.monthly', offerId: 'winback_50' })).json();
    expect(again.nonce).not.toBe(body.nonce);
  });

  it("signs what Apple's library signs: the library's signature for the same fields verifies over the same string", async () => {
    const body = (await post(t, '/offers/promotional-signature', { productId: 'com.example.pro.yearly', offerId: 'o1', appAccountToken: TOKEN })).json();
    const library = new PromotionalOfferSignatureCreator(OFFER_PEM, OFFER_KEY_ID, TEST_BUNDLE_ID).createSignature(
      'com.example.pro.yearly',
      'o1',
      TOKEN,
      body.nonce,
      body.timestamp,
    );
    const payload = applePayload(OFFER_KEY_ID, 'com.example.pro.yearly', 'o1', TOKEN, body.nonce, body.timestamp);
    expect(verifies(keys.publicKey, payload, library)).toBe(true);
    expect(verifies(keys.publicKey, payload, body.signature)).toBe(true);
  });

  it('signs an empty appAccountToken when the body has none', async () => {
    const body = (await post(t, '/offers/promotional-signature', { productId: 'p', offerId: 'o' })).json();
    expect(verifies(keys.publicKey, applePayload(OFFER_KEY_ID, 'p', 'o', '', body.nonce, body.timestamp), body.signature)).toBe(true);
  });

  it('signs with the App Store Server API key and its key id when no offer key is set', async () => {
    const body = (await post(byApiKey, '/offers/promotional-signature', { productId: 'p', offerId: 'o', appAccountToken: TOKEN })).json();
    expect(body.keyIdentifier).toBe('APIKEY0001');
    expect(verifies(api.publicKey, applePayload('APIKEY0001', 'p', 'o', TOKEN, body.nonce, body.timestamp), body.signature)).toBe(true);

    const jws = (await post(byApiKey, '/offers/signed', { kind: 'promotional', productId: 'p', offerId: 'o' })).json().jws;
    expect(decodeProtectedHeader(jws).kid).toBe('APIKEY0001');
    await expect(jwtVerify(jws, createPublicKey(API_PEM), { issuer: ISSUER_ID, audience: 'promotional-offer' })).resolves.toBeTruthy();
  });

  it("makes the promotional offer V2 JWS as Apple's library does: same header, same claims but the nonce, both verify", async () => {
    const response = await post(t, '/offers/signed', {
      kind: 'promotional',
      productId: 'com.example.pro.monthly',
      offerId: 'winback_50',
      transactionId: '2000000000000007',
    });
    expect(response.statusCode).toBe(200);
    const ours = response.json().jws as string;
    const library = new PromotionalOfferV2SignatureCreator(OFFER_PEM, OFFER_KEY_ID, ISSUER_ID, TEST_BUNDLE_ID).createSignature(
      'com.example.pro.monthly',
      'winback_50',
      '2000000000000007',
    );

    expect(decodeProtectedHeader(ours)).toEqual(decodeProtectedHeader(library));
    expect(decodeProtectedHeader(ours)).toEqual({ alg: 'ES256', typ: 'JWT', kid: OFFER_KEY_ID });
    const { nonce, iat, ...claims } = decodeJwt(ours);
    const { nonce: libraryNonce, iat: _libraryIat, ...libraryClaims } = decodeJwt(library);
    expect(claims).toEqual(libraryClaims);
    expect(claims).toEqual({
      productId: 'com.example.pro.monthly',
      offerIdentifier: 'winback_50',
      transactionId: '2000000000000007',
      bid: TEST_BUNDLE_ID,
      iss: ISSUER_ID,
      aud: 'promotional-offer',
    });
    expect(iat).toBe(NOW / 1000);
    expect(nonce).toMatch(/^[0-9a-f-]{36}$/);
    expect(nonce).not.toBe(libraryNonce);
    for (const jws of [ours, library]) {
      await expect(jwtVerify(jws, keys.publicKey, { issuer: ISSUER_ID, audience: 'promotional-offer', currentDate: new Date(NOW) })).resolves.toBeTruthy();
    }
  });

  it('leaves transactionId out of the promotional JWS when the body has none, as the library does', async () => {
    const ours = (await post(t, '/offers/signed', { kind: 'promotional', productId: 'p', offerId: 'o' })).json().jws;
    const library = new PromotionalOfferV2SignatureCreator(OFFER_PEM, OFFER_KEY_ID, ISSUER_ID, TEST_BUNDLE_ID).createSignature('p', 'o');
    expect(Object.keys(decodeJwt(ours)).sort()).toEqual(Object.keys(decodeJwt(library)).sort());
    expect(decodeJwt(ours)).not.toHaveProperty('transactionId');
  });

  it("makes the introductory-offer eligibility JWS as Apple's library does", async () => {
    const response = await post(t, '/offers/signed', {
      kind: 'introductory_eligibility',
      productId: 'com.example.pro.monthly',
      allowIntroductoryOffer: false,
      transactionId: '2000000000000007',
    });
    expect(response.statusCode).toBe(200);
    const ours = response.json().jws as string;
    const library = new IntroductoryOfferEligibilitySignatureCreator(OFFER_PEM, OFFER_KEY_ID, ISSUER_ID, TEST_BUNDLE_ID).createSignature(
      'com.example.pro.monthly',
      false,
      '2000000000000007',
    );
    expect(decodeProtectedHeader(ours)).toEqual(decodeProtectedHeader(library));
    const { nonce: _n, iat: _i, ...claims } = decodeJwt(ours);
    const { nonce: _ln, iat: _li, ...libraryClaims } = decodeJwt(library);
    expect(claims).toEqual(libraryClaims);
    expect(claims).toMatchObject({ allowIntroductoryOffer: false, aud: 'introductory-offer-eligibility' });
    for (const jws of [ours, library]) {
      await expect(
        jwtVerify(jws, keys.publicKey, { issuer: ISSUER_ID, audience: 'introductory-offer-eligibility', currentDate: new Date(NOW) }),
      ).resolves.toBeTruthy();
    }
  });

  it('answers 400 VALIDATION_ERROR naming the field, for each bad or missing field', async () => {
    const cases: [string, object, string][] = [
      ['/offers/promotional-signature', { offerId: 'o' }, 'productId'],
      ['/offers/promotional-signature', { productId: 'p', offerId: 'o', appAccountToken: 'not-a-uuid' }, 'appAccountToken'],
      ['/offers/promotional-signature', { productId: 'p', offerId: `o${SEP}x` }, 'offerId'],
      ['/offers/signed', { kind: 'winback', productId: 'p', offerId: 'o' }, 'kind'],
      ['/offers/signed', { kind: 'promotional', productId: 'p' }, 'offerId'],
      ['/offers/signed', { kind: 'promotional', productId: 'p', offerId: 'o', transactionId: '12 34' }, 'transactionId'],
      ['/offers/signed', { kind: 'introductory_eligibility', productId: 'p', transactionId: '1' }, 'allowIntroductoryOffer'],
      ['/offers/signed', { kind: 'introductory_eligibility', productId: 'p', allowIntroductoryOffer: true }, 'transactionId'],
      ['/offers/signed', { kind: 'introductory_eligibility', productId: 'p', allowIntroductoryOffer: 'perhaps', transactionId: '1' }, 'allowIntroductoryOffer'],
    ];
    for (const [url, payload, field] of cases) {
      const response = await post(t, url, payload);
      expect(response.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(400);
      expect(response.json().error.code).toBe('VALIDATION_ERROR');
      expect(response.json().error.message).toContain(field);
    }
  });

  it('answers 400 API_NOT_CONFIGURED without any key, and for JWS without APPLE_ISSUER_ID', async () => {
    for (const [url, payload] of [
      ['/offers/promotional-signature', { productId: 'p', offerId: 'o' }],
      ['/offers/signed', { kind: 'promotional', productId: 'p', offerId: 'o' }],
    ] as const) {
      const response = await post(withoutKey, url, payload);
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('API_NOT_CONFIGURED');
    }
    expect((await post(withoutIssuer, '/offers/promotional-signature', { productId: 'p', offerId: 'o' })).statusCode).toBe(200);
    const signed = await post(withoutIssuer, '/offers/signed', { kind: 'promotional', productId: 'p', offerId: 'o' });
    expect(signed.statusCode).toBe(400);
    expect(signed.json().error).toMatchObject({ code: 'API_NOT_CONFIGURED', message: expect.stringContaining('APPLE_ISSUER_ID') });
  });

  it('answers 401 without an app key', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/offers/signed', payload: { kind: 'promotional', productId: 'p', offerId: 'o' } });
    expect(response.statusCode).toBe(401);
  });
});
