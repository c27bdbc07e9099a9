import SwaggerParser from '@apidevtools/swagger-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/fixtures.js';

// Every route of SPEC.md, as OpenAPI writes paths.
const SPEC_ROUTES = [
  'POST /webhooks/apple/v2',
  'POST /webhooks/apple/v1',
  'GET /entitlements/{userId}',
  'GET /users/{userId}/app-account-token',
  'POST /users/{userId}/transactions',
  'POST /users/{userId}/receipts',
  'GET /users/{userId}/transactions',
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'POST /admin/notifications/recover',
  'POST /admin/notifications/test',
  'GET /admin/notifications/test/{token}',
  'POST /admin/subscriptions/{originalTransactionId}/extend',
  'POST /admin/subscriptions/extend',
  'GET /admin/subscriptions/extend/{productId}/{requestId}',
  'PUT /transactions/{transactionId}/consumption',
  'POST /offers/promotional-signature',
  'POST /offers/signed',
  'GET /admin/notifications',
  'GET /admin/users/{userId}',
  'GET /admin/analytics/summary',
  'GET /admin/analytics/timeseries',
];

interface Operation {
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  requestBody?: unknown;
  parameters?: Array<{ in: string; name: string }>;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type Document = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
};

describe('the OpenAPI document', () => {
  const t = useTestApp();
  let document: Document;

  beforeAll(async () => {
    const response = await t.app.inject({ method: 'GET', url: '/docs/openapi.json' });
    expect(response.statusCode).toBe(200);
    document = response.json();
  });

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, operation })),
    );

  it('is a valid OpenAPI 3 document', async () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(document.info.title).toBe('App Store Entitlements');
    expect(document.info.version).toMatch(/^\d+\.\d+\.\d+/);
    // validate() dereferences in place; give it a copy.
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeTruthy();
  });

  it('is served at /docs/openapi.json (and its former URL /docs/json), while /docs is an HTML page', async () => {
    const former = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(former.json()).toEqual(document);
    const page = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    expect(page.body).toMatch(/^<!doctype html>/);
  });

  it('lists every route of SPEC.md', () => {
    const documented = new Set(operations().map(({ route }) => route));
    const missing = SPEC_ROUTES.filter((route) => !documented.has(route));
    expect(missing).toEqual([]);
  });

  it('gives every route tags and a described 200 response', () => {
    for (const { route, operation } of operations()) {
      expect(operation.tags?.length, route).toBeGreaterThan(0);
      expect(operation.responses?.['200'], route).toBeDefined();
    }
  });

  it('documents request bodies for every POST that takes one and path parameters for every templated path', () => {
    // SPEC.md gives these no body (the refresh, beyond SPEC, takes none either).
    const withoutBody = ['POST /admin/notifications/test', 'POST /admin/events/{eventId}/redeliver', 'POST /admin/users/{userId}/refresh'];
    for (const { route, operation } of operations()) {
      if (route.startsWith('POST ') && !withoutBody.includes(route)) expect(operation.requestBody, route).toBeDefined();
      for (const [, name] of route.matchAll(/\{(\w+)\}/g)) {
        expect(
          operation.parameters?.some((p) => p.in === 'path' && p.name === name),
          `${route} ${name}`,
        ).toBe(true);
      }
    }
  });

  it('declares bearer schemes for API and admin keys and requires the right one per route', () => {
    expect(document.components.securitySchemes).toMatchObject({
      apiKey: { type: 'http', scheme: 'bearer' },
      adminKey: { type: 'http', scheme: 'bearer' },
    });
    for (const { route, operation } of operations()) {
      const path = route.split(' ')[1]!;
      const expected = path.startsWith('/admin/')
        ? [{ adminKey: [] }]
        : path.startsWith('/webhooks/') || ['/healthz', '/readyz', '/metrics'].includes(path)
          ? []
          : [{ apiKey: [] }];
      expect(operation.security, route).toEqual(expected);
    }
  });

  it('documents the 429 of the rate limiter on every route, the probes included', () => {
    for (const { route, operation } of operations()) {
      expect(operation.responses?.['429'] !== undefined, route).toBe(true);
    }
  });
});
