import { connect } from 'node:net';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_BUNDLE_ID } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { countRows } from '../helpers/rows.js';
import { anyJson, bodies, contentTypes, malformedJws, oddHeaders, pathSegment, queryStrings, signedButWrong, userIds } from './arbitraries.js';
import {
  type AuthKind,
  authHeaders,
  expectHandled,
  fillPath,
  POST_ROUTES,
  ROUTES,
  type RouteUnderTest,
  useFuzzApp,
  V1_SECRET,
  WRITTEN_TABLES,
} from './support.js';

const RUNS = 200;
const authKinds = fc.constantFrom<AuthKind>('none', 'wrong', 'app', 'admin');

/** A 200 is only acceptable where the request is harmless with the key it carries. */
function mayAnswerOk(route: RouteUnderTest): boolean {
  return route.readOnly || route.path.startsWith('/admin/');
}

/** The routes the app serves, read from Fastify's route tree ("METHOD /path"). */
function servedRoutes(tree: string): string[] {
  const stack: string[] = [];
  const served: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!match) continue;
    const depth = [...(match[1] ?? '')].length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + (match[2] ?? '');
    stack.push(path);
    for (const method of (match[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean)) {
      if (method !== 'HEAD' && method !== 'OPTIONS') served.push(`${method} ${path}`);
    }
  }
  return served;
}

describe(`hostile input on every route (${backendName})`, () => {
  const t = useFuzzApp();
  const inject = (options: InjectOptions) => t.app.inject(options);

  afterEach(async () => {
    // Whatever the test sent: nothing stored, and the service still ready.
    expect(await countRows(t.deps.database.db, WRITTEN_TABLES)).toEqual({
      notifications: 0,
      transactions: 0,
      subscriptions: 0,
      links: 0,
      linkEvents: 0,
    });
    expect((await inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('fuzzes every route the app serves (the list below is complete)', () => {
    const listed = new Set(ROUTES.map((route) => `${route.method} ${route.path}`));
    const served = servedRoutes(t.app.printRoutes({ commonPrefix: false }));
    expect(served.length).toBeGreaterThanOrEqual(ROUTES.length);
    // /docs/json is the former URL of /docs/openapi.json, fuzzed with it below.
    expect(served.filter((route) => !listed.has(route) && route !== 'GET /docs/json')).toEqual([]);
  });

  it('answers random JSON bodies, ids and keys on every route with a coded 4xx or a harmless 200', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES, { method: 'GET', path: '/docs/json', auth: 'none', readOnly: true } as RouteUnderTest),
        authKinds,
        pathSegment,
        pathSegment,
        anyJson,
        fc.boolean(),
        async (route, auth, userId, token, body, asHead) => {
          const method = route.method === 'GET' && asHead ? 'HEAD' : route.method;
          const response = await inject({
            method,
            url: fillPath(route.path, userId, token),
            headers: authHeaders(auth),
            ...(method === 'POST' || method === 'PUT'
              ? { payload: JSON.stringify(body) ?? 'null', headers: { ...authHeaders(auth), 'content-type': 'application/json' } }
              : {}),
          });
          expectHandled(response, `${method} ${route.path} auth=${auth}`, { allowOk: mayAnswerOk(route), allowRedirect: route.redirects === true, method });
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('rejects malformed JWS in every field that carries one with 400, whichever key is sent', async () => {
    const carriers: Array<{ url: string; auth: AuthKind; body: (jws: string) => unknown }> = [
      { url: '/webhooks/apple/v2', auth: 'none', body: (jws) => ({ signedPayload: jws }) },
      { url: '/users/u-fuzz/transactions', auth: 'app', body: (jws) => ({ signedTransaction: jws }) },
      { url: '/users/u-fuzz/receipts', auth: 'app', body: (jws) => ({ receipt: jws }) },
      { url: '/users/u-fuzz/app-transaction', auth: 'app', body: (jws) => ({ signedAppTransaction: jws }) },
      {
        url: '/webhooks/apple/v1',
        auth: 'none',
        body: (jws) => ({ password: V1_SECRET, notification_type: 'DID_RENEW', bid: TEST_BUNDLE_ID, unified_receipt: { latest_receipt: jws } }),
      },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...carriers), malformedJws(t.trusted), async (carrier, jws) => {
        const response = await inject({ method: 'POST', url: carrier.url, headers: authHeaders(carrier.auth), payload: carrier.body(jws) as object });
        expectHandled(response, `POST ${carrier.url} with ${JSON.stringify(jws.slice(0, 80))}`);
        expect(response.statusCode).toBe(400);
      }),
      { numRuns: RUNS },
    );
  });

  it('rejects really signed JWS that is untrusted, not a notification, or carries a forged nested JWS with 400', async () => {
    await fc.assert(
      fc.asyncProperty(signedButWrong(t.trusted, t.untrusted), fc.boolean(), async (jws, asTransaction) => {
        const response = asTransaction
          ? await inject({ method: 'POST', url: '/users/u-fuzz/transactions', headers: authHeaders('app'), payload: { signedTransaction: jws } })
          : await inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload: jws } });
        expectHandled(response, `signed but wrong (${asTransaction ? 'transaction' : 'notification'})`);
        expect(response.statusCode).toBe(400);
      }),
      { numRuns: RUNS },
    );
  });

  it('answers wrong content types, odd headers and raw bytes with a coded 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_ROUTES), authKinds, contentTypes, bodies, oddHeaders, async (route, auth, contentType, body, headers) => {
        const response = await inject({
          method: 'POST',
          url: fillPath(route.path, 'u-fuzz', 'token'),
          headers: { ...authHeaders(auth), ...headers, 'content-type': contentType },
          payload: body,
        });
        expectHandled(response, `POST ${route.path} ${JSON.stringify({ contentType, headers, auth })}`, { allowOk: route.path.startsWith('/admin/') });
      }),
      { numRuns: RUNS },
    );
  });

  it('answers bodies past the size limit, huge fields and deeply nested JSON with a coded 4xx', async () => {
    const nestedArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const nestedObjects = (depth: number, key: string) => `${`{"${key}":`.repeat(depth)}1${'}'.repeat(depth)}`;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...POST_ROUTES),
        fc.constantFrom<AuthKind>('none', 'app', 'admin'),
        fc.oneof(
          fc.integer({ min: 260_000, max: 2_000_000 }).map((n) => JSON.stringify({ signedPayload: 'a'.repeat(n) })),
          fc.integer({ min: 200_001, max: 250_000 }).map((n) => JSON.stringify({ signedPayload: 'a'.repeat(n), signedTransaction: 'b', receipt: 'c' })),
          fc.integer({ min: 1_000, max: 100_000 }).map(nestedArrays),
          fc.integer({ min: 1_000, max: 20_000 }).map((depth) => nestedObjects(depth, 'a')),
          fc.integer({ min: 10, max: 20_000 }).map((depth) => nestedObjects(depth, '__proto__')),
          fc.integer({ min: 10, max: 20_000 }).map((depth) => `{"signedPayload":"x","data":${nestedObjects(depth, 'constructor')}}`),
          fc.constantFrom('{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"signedPayload":"x","__proto__":null}'),
        ),
        async (route, auth, payload) => {
          const response = await inject({
            method: 'POST',
            url: fillPath(route.path, 'u-fuzz', 'token'),
            headers: { ...authHeaders(auth), 'content-type': 'application/json' },
            payload,
          });
          expectHandled(response, `POST ${route.path} (${payload.length} bytes, ${payload.slice(0, 20)})`, { allowOk: route.path.startsWith('/admin/') });
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers random user ids, tokens and query strings on the read routes with 200 or a coded 4xx', async () => {
    const reads = ROUTES.filter((route) => route.method === 'GET');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...reads), authKinds, pathSegment, userIds, queryStrings, async (route, auth, userId, token, query) => {
        const response = await inject({ method: 'GET', url: fillPath(route.path, userId, encodeURIComponent(token)) + query, headers: authHeaders(auth) });
        expectHandled(response, `GET ${route.path} ${JSON.stringify({ userId, query, auth })}`, { allowOk: true, allowRedirect: route.redirects === true });
        if (
          response.statusCode === 200 &&
          route.path !== '/healthz' &&
          route.path !== '/readyz' &&
          !route.path.startsWith('/docs') &&
          !route.path.startsWith('/console') &&
          route.path !== '/metrics'
        ) {
          expect(auth === 'app' || auth === 'admin', `a ${route.path} answer without a valid key`).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('survives raw garbage on the socket and keeps answering over HTTP', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const send = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
        socket.on('data', () => {});
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.setTimeout(2_000, () => socket.destroy());
      });
    const requestLines = fc.oneof(
      fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
      fc
        .tuple(fc.constantFrom('POST', 'GET', 'PUT', 'DELETE', 'BREW', ''), fc.constantFrom(...ROUTES.map((r) => r.path)), bodies, contentTypes)
        .map(([method, path, body, type]) =>
          Buffer.concat([
            Buffer.from(
              `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type.replace(/[\r\n]/g, '')}\r\nContent-Length: ${Math.max(0, (typeof body === 'string' ? Buffer.byteLength(body) : body.length) - 3)}\r\n\r\n`,
            ),
            Buffer.from(body),
          ]),
        ),
      fc.constant(
        Buffer.from('POST /webhooks/apple/v2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'),
      ),
    );
    await fc.assert(
      fc.asyncProperty(requestLines, async (bytes) => send(bytes)),
      { numRuns: 100 },
    );
    const health = await fetch(`${address}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${address}/readyz`);
    expect(ready.status).toBe(200);
  });
});
