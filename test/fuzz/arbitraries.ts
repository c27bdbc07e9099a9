// Generators of hostile input: strings that look like JWS without being valid ones,
// JWS with real signatures over wrong content, random JSON, odd content types and headers.

import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { TEST_BUNDLE_ID } from '../helpers/app.js';
import { signCompactJws, type TestPki } from '../helpers/pki.js';

const b64url = (input: string | Uint8Array) => Buffer.from(input).toString('base64url');

/** Any text, including lone surrogates and control characters. */
export const anyText = (maxLength = 200) =>
  fc.oneof(fc.string({ maxLength }), fc.string({ maxLength, unit: 'binary' }), fc.string({ maxLength, unit: 'grapheme' }));

export const anyJson = fc.jsonValue({ maxDepth: 4 });

const segment = fc.oneof(
  anyText(80),
  fc.uint8Array({ maxLength: 200 }).map(b64url),
  anyJson.map((value) => b64url(JSON.stringify(value) ?? '')),
  fc.constantFrom('', '=', '==', '+/', '%%', 'e30', 'bnVsbA'),
);

const algorithms = fc.constantFrom('ES256', 'none', 'HS256', 'RS256', 'ES384', 'EdDSA', '', 'es256');

function headerArbitrary(pki: TestPki) {
  const x5c = fc.oneof(
    fc.constant(pki.x5c),
    fc.constant([...pki.x5c].reverse()),
    fc.constant(pki.x5c.slice(0, 1)),
    fc.array(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64')),
      { maxLength: 4 },
    ),
    fc.array(anyText(60), { maxLength: 4 }),
    anyJson,
  );
  return fc.oneof(anyJson, fc.record({ alg: fc.oneof(algorithms, anyJson), x5c, typ: anyText(10), kid: anyText(10) }, { requiredKeys: [] }));
}

/** Compact-JWS-shaped strings that are not valid signatures by anyone the app trusts. */
export function malformedJws(pki: TestPki) {
  return fc.oneof(
    anyText(500),
    fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
    fc.array(segment, { maxLength: 7 }).map((parts) => parts.join('.')),
    fc
      .record({ header: headerArbitrary(pki), payload: anyJson, signature: fc.uint8Array({ maxLength: 96 }) })
      .map(({ header, payload, signature }) => `${b64url(JSON.stringify(header) ?? '')}.${b64url(JSON.stringify(payload) ?? '')}.${b64url(signature)}`),
  );
}

/** A notification-shaped payload whose field values are random. */
function notificationLike(nested: fc.Arbitrary<string>) {
  return fc.record(
    {
      notificationType: fc.oneof(fc.constantFrom('SUBSCRIBED', 'DID_RENEW', 'REFUND', 'TEST'), anyText(30)),
      subtype: fc.oneof(fc.constantFrom('INITIAL_BUY', 'AUTO_RENEW_ENABLED'), anyText(20), anyJson),
      notificationUUID: fc.oneof(fc.uuid(), anyText(40), anyJson),
      version: fc.oneof(fc.constant('2.0'), anyJson),
      signedDate: fc.oneof(fc.integer(), fc.double(), anyText(20), fc.constant(Date.parse('2025-06-01T00:00:00Z'))),
      data: fc.record(
        {
          bundleId: fc.oneof(fc.constant(TEST_BUNDLE_ID), anyText(30)),
          environment: fc.oneof(fc.constantFrom('Sandbox', 'Production', 'Xcode', 'LocalTesting'), anyText(12)),
          bundleVersion: anyText(5),
          // Always present and never validly signed: the notification must fail as a whole.
          signedTransactionInfo: nested,
          signedRenewalInfo: fc.oneof(nested, anyJson),
          status: fc.oneof(fc.integer({ min: -2, max: 9 }), anyJson),
        },
        { requiredKeys: ['signedTransactionInfo'] },
      ),
    },
    { requiredKeys: ['data'] },
  );
}

/**
 * Really signed JWS the app must still refuse: signed by an untrusted chain, or by the
 * trusted chain over random JSON, or over a notification whose nested JWS is forged.
 */
export function signedButWrong(trusted: TestPki, untrusted: TestPki) {
  const sign = (pki: TestPki, payload: unknown) => signCompactJws(pki.leafPrivateKey, { alg: 'ES256', x5c: pki.x5c }, JSON.stringify(payload) ?? 'null');
  const forgedNested = fc.oneof(
    malformedJws(trusted),
    fc.constant(null).map(() => sign(untrusted, { transactionId: '1', originalTransactionId: '1', bundleId: TEST_BUNDLE_ID })),
  );
  return fc.oneof(
    anyJson.map((payload) => sign(trusted, payload)),
    notificationLike(forgedNested).map((payload) => sign(trusted, payload)),
    notificationLike(forgedNested).map((payload) => sign(untrusted, payload)),
    // A well-formed notification, correctly signed, but by a chain the app does not trust.
    fc.constant(null).map(() =>
      sign(untrusted, {
        notificationType: 'TEST',
        notificationUUID: randomUUID(),
        version: '2.0',
        signedDate: Date.parse('2025-06-01T00:00:00Z'),
        data: { bundleId: TEST_BUNDLE_ID, environment: 'Sandbox' },
      }),
    ),
  );
}

export const userIds = fc.oneof(
  fc.uuid(),
  anyText(40),
  fc.string({ minLength: 200, maxLength: 2_000 }),
  fc.constantFrom('..', '.', '%00', '%zz', '%', '/', '?', '#', '%2F', 'u-42', ' ', '\u0000', 'null', 'undefined', '__proto__'),
);

/** A path segment as a client might send it: encoded, or raw (which may break the URL). */
export const pathSegment = fc.tuple(userIds, fc.boolean()).map(([value, encode]) => (encode ? encodeURIComponent(value) : value));

export const queryStrings = fc.oneof(
  fc.constant(''),
  fc
    .dictionary(fc.constantFrom('cursor', 'limit', 'refresh', 'x', '__proto__', 'limit[]'), fc.oneof(anyText(40), fc.integer().map(String)), { maxKeys: 4 })
    .map((query) => `?${new URLSearchParams(query).toString()}`),
  anyText(60).map((raw) => `?${raw}`),
);

export const contentTypes = fc.oneof(
  fc.constantFrom(
    'text/plain',
    'text/html',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/xml',
    'application/octet-stream',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'application/json;;;',
    'application/jsonx',
    'application/*',
    '*/*',
    'json',
    '',
  ),
  anyText(40),
);

export const bodies = fc.oneof(
  anyText(400),
  anyJson.map((value) => JSON.stringify(value) ?? ''),
  fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
);

/** Headers a client may send oddly; values stay within what HTTP allows on the wire. */
const headerValue = fc.string({ maxLength: 60 }).map((value) => value.replace(/[^\x20-\x7e]/g, ''));
export const oddHeaders = fc.record(
  {
    'content-encoding': fc.oneof(fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'x-unknown'), headerValue),
    accept: fc.oneof(fc.constantFrom('application/xml', 'text/plain', '*/*', ''), headerValue),
    'accept-encoding': headerValue,
    'x-forwarded-for': headerValue,
    authorization: fc.oneof(
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Basic dGVzdDp0ZXN0',
        'bearer test-api-key-0123456789',
        'Bearer test-api-key-0123456789 ',
        'Bearer  test-admin-key-0123456789',
      ),
      headerValue,
    ),
    'transfer-encoding': fc.constantFrom('identity', 'chunked', 'gzip, chunked'),
  },
  { requiredKeys: [] },
);
