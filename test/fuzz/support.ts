// Shared pieces of the hostile-input tests: the app under attack (with an App Store
// Server API that knows nothing, so no route reaches the network), the route list,
// the rows that must not change, and the checks every answer must pass.
import { generateKeyPairSync } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, expect } from 'vitest';
import { createAppStoreServerApi } from '../../src/apple/api/index.js';
import { TEST_ADMIN_KEY, TEST_API_KEY, TEST_BUNDLE_ID, type TestApp } from '../helpers/app.js';
import { useTestApp, useTestPki } from '../helpers/fixtures.js';
import type { TestPki } from '../helpers/pki.js';

export const V1_SECRET = 'fuzz-shared-secret-0123456789abcdef';

export type AuthKind = 'none' | 'wrong' | 'app' | 'admin';

export interface RouteUnderTest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** Path template; `:userId`, `:token`, `:eventId` and the other ids are filled by the generators. */
  path: string;
  /** Which key a legitimate caller presents. */
  auth: 'none' | 'app' | 'admin' | 'v1-password';
  /** A GET that may answer 200 to any well-formed input (read-only, e.g. an unknown user). */
  readOnly: boolean;
  /** Answers a redirect to any input (GET /console → /console/). */
  redirects?: boolean;
}

// Every route SPEC.md names. The test also checks the app serves no route missing here.
export const ROUTES: RouteUnderTest[] = [
  { method: 'POST', path: '/webhooks/apple/v2', auth: 'none', readOnly: false },
  { method: 'POST', path: '/webhooks/apple/v1', auth: 'v1-password', readOnly: false },
  { method: 'GET', path: '/entitlements/:userId', auth: 'app', readOnly: true },
  { method: 'GET', path: '/users/:userId/app-account-token', auth: 'app', readOnly: true },
  { method: 'GET', path: '/users/:userId/transactions', auth: 'app', readOnly: true },
  // Random queries never carry `wait` (a valid one would hold a run for up to 30 s).
  { method: 'GET', path: '/events', auth: 'app', readOnly: true },
  { method: 'POST', path: '/users/:userId/transactions', auth: 'app', readOnly: false },
  { method: 'POST', path: '/users/:userId/receipts', auth: 'app', readOnly: false },
  { method: 'POST', path: '/users/:userId/restore', auth: 'app', readOnly: false },
  { method: 'POST', path: '/users/:userId/app-transaction', auth: 'app', readOnly: false },
  { method: 'POST', path: '/admin/notifications/recover', auth: 'admin', readOnly: false },
  { method: 'POST', path: '/admin/notifications/test', auth: 'admin', readOnly: false },
  { method: 'GET', path: '/admin/notifications/test/:token', auth: 'admin', readOnly: true },
  { method: 'GET', path: '/admin/events/deliveries', auth: 'admin', readOnly: false },
  { method: 'GET', path: '/admin/orders/:orderId', auth: 'admin', readOnly: false },
  { method: 'POST', path: '/admin/events/:eventId/redeliver', auth: 'admin', readOnly: false },
  { method: 'POST', path: '/admin/subscriptions/:originalTransactionId/extend', auth: 'admin', readOnly: false },
  { method: 'POST', path: '/admin/subscriptions/extend', auth: 'admin', readOnly: false },
  { method: 'GET', path: '/admin/subscriptions/extend/:productId/:requestId', auth: 'admin', readOnly: true },
  { method: 'GET', path: '/admin/consumption', auth: 'admin', readOnly: true },
  { method: 'PUT', path: '/transactions/:transactionId/consumption', auth: 'app', readOnly: false },
  { method: 'GET', path: '/admin/notifications', auth: 'admin', readOnly: true },
  { method: 'GET', path: '/admin/users/:userId', auth: 'admin', readOnly: true },
  { method: 'POST', path: '/offers/promotional-signature', auth: 'app', readOnly: false },
  { method: 'POST', path: '/offers/signed', auth: 'app', readOnly: false },
  { method: 'POST', path: '/admin/users/:userId/grants', auth: 'admin', readOnly: false },
  { method: 'DELETE', path: '/admin/users/:userId/grants/:grantId', auth: 'admin', readOnly: false },
  { method: 'GET', path: '/admin/analytics/summary', auth: 'admin', readOnly: true },
  { method: 'GET', path: '/admin/analytics/timeseries', auth: 'admin', readOnly: false },
  { method: 'GET', path: '/admin/lookup', auth: 'admin', readOnly: true },
  // Beyond SPEC: the console's refresh of a user and its list of recovery runs.
  { method: 'POST', path: '/admin/users/:userId/refresh', auth: 'admin', readOnly: false },
  { method: 'GET', path: '/admin/notifications/recover/runs', auth: 'admin', readOnly: true },
  // Beyond SPEC: the installation's apps (the console's app switcher).
  { method: 'GET', path: '/admin/apps', auth: 'admin', readOnly: true },
  // The operator console's files (no key: the page asks for one and calls the admin routes).
  { method: 'GET', path: '/console', auth: 'none', readOnly: true, redirects: true },
  // @fastify/static's /console/* (Fastify's route tree prints it so; fillPath puts /<token> for the *).
  { method: 'GET', path: '/console*', auth: 'none', readOnly: true },
  { method: 'GET', path: '/healthz', auth: 'none', readOnly: true },
  { method: 'GET', path: '/readyz', auth: 'none', readOnly: true },
  { method: 'GET', path: '/metrics', auth: 'none', readOnly: true },
  { method: 'GET', path: '/docs', auth: 'none', readOnly: true },
  { method: 'GET', path: '/docs/openapi.json', auth: 'none', readOnly: true },
];

export const POST_ROUTES = ROUTES.filter((route) => route.method === 'POST');

export function authHeaders(kind: AuthKind): Record<string, string> {
  switch (kind) {
    case 'none':
      return {};
    case 'wrong':
      return { authorization: 'Bearer not-a-key' };
    case 'app':
      return { authorization: `Bearer ${TEST_API_KEY}` };
    case 'admin':
      return { authorization: `Bearer ${TEST_ADMIN_KEY}` };
  }
}

/**
 * A stand-in for Apple's Server API that has never heard of anything: transaction and
 * test-notification look-ups answer Apple's not-found errors, history is empty, and a
 * test notification request succeeds. Answered in-process, so nothing leaves the machine.
 */
function emptyAppStoreFetch(): typeof fetch {
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  return async (input) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const path = url.pathname;
    if (path.endsWith('/notifications/history')) return json(200, { notificationHistory: [], hasMore: false });
    if (path.endsWith('/notifications/test')) return json(200, { testNotificationToken: 'fuzz-test-token' });
    if (path.includes('/notifications/test/')) return json(404, { errorCode: 4040008, errorMessage: 'Test notification not found.' });
    return json(404, { errorCode: 4040010, errorMessage: 'Transaction id not found.' });
  };
}

export interface FuzzApp extends TestApp {
  /** A PKI the app trusts (its notifications verify). */
  trusted: TestPki;
  /** A PKI of the same shape the app does not trust. */
  untrusted: TestPki;
}

/** The app under attack for the tests of the calling scope (the fixture hooks), ready before they run. */
export function useFuzzApp(): FuzzApp {
  const trusted = useTestPki();
  const untrusted = useTestPki({ label: 'untrusted' });
  const app = useTestApp(() => ({
    pki: trusted.pki,
    env: {
      APPLE_SHARED_SECRET: V1_SECRET,
      // Limits answer 429, a 4xx, but would hide what the routes themselves do.
      RATE_LIMIT_WEBHOOK_PER_MINUTE: '0',
      RATE_LIMIT_API_PER_MINUTE: '0',
      APPLE_VERIFY_RECEIPT_URL: 'http://127.0.0.1:9/verifyReceipt',
    },
    overrides: { appStoreApi: knowNothingAppStoreApi() },
  }));
  beforeAll(async () => {
    await app.app.ready();
  });
  return Object.defineProperties(app, {
    trusted: { get: () => trusted.pki },
    untrusted: { get: () => untrusted.pki },
  }) as FuzzApp;
}

function knowNothingAppStoreApi() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return createAppStoreServerApi({
    issuerId: '00000000-0000-0000-0000-000000000000',
    keyId: 'FUZZKEY000',
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    bundleId: TEST_BUNDLE_ID,
    baseUrl: 'http://app-store.invalid',
    fetch: emptyAppStoreFetch(),
    maxAttempts: 1,
    sleep: async () => {},
  });
}

/** Tables a rejected request must never write. `users` is left out: looking a token up creates the user, legitimately. */
export const WRITTEN_TABLES = ['notifications', 'transactions', 'subscriptions', 'links', 'linkEvents'] as const;

/**
 * The answer to hostile input: a handled 4xx in SPEC.md's error shape, or a 200 where
 * the request is harmless (a read-only route, `allowOk`). Never a 5xx.
 */
export function expectHandled(
  response: LightMyRequestResponse,
  context: string,
  options: { allowOk?: boolean; allowRedirect?: boolean; method?: string } = {},
): void {
  const where = `${context} → ${response.statusCode} ${response.body.slice(0, 300)}`;
  expect(response.statusCode, where).toBeLessThan(500);
  if (options.allowRedirect === true && response.statusCode >= 300 && response.statusCode < 400) return;
  if (response.statusCode < 400) {
    expect(options.allowOk === true && response.statusCode === 200, where).toBe(true);
    return;
  }
  if (options.method === 'HEAD') return;
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    throw new Error(`not JSON: ${where}`);
  }
  expect(body, where).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  expect((body as { error: { code: string } }).error.code, where).toMatch(/^[A-Z][A-Z0-9_]*$/);
}

export function fillPath(template: string, userId: string, token: string): string {
  return template
    .replace(':userId', userId)
    .replace(':token', token)
    .replace(':eventId', token)
    .replace(':originalTransactionId', userId)
    .replace(':transactionId', userId)
    .replace(':productId', userId)
    .replace(':requestId', token)
    .replace(':orderId', token)
    .replace(':grantId', token)
    .replace('*', `/${token}`);
}
