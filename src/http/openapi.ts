import { readFileSync } from 'node:fs';
import path from 'node:path';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { projectRoot } from '../paths.js';
import { APP_ID_HEADER } from './auth.js';
import { DOCS_PAGE_CSP, type OpenApiDocument, renderDocsPage } from './docs-page.js';
import { rateLimitClass } from './rate-limit.js';
import { errorResponses } from './schemas.js';

// The OpenAPI document is generated from the routes' own schemas; nothing is written by
// hand but the header. Security requirements follow the URL prefix (like the rate limits),
// so route modules need not repeat them.

export interface OpenApiOptions {
  version: string;
}

/** The version in package.json, which the image ships beside dist/. */
export function serviceVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : '0.0.0';
}

function withoutKeys<T>(from: Record<string, T>, present: Record<string, unknown>): Record<string, T> {
  return Object.fromEntries(Object.entries(from).filter(([key]) => !(key in present)));
}

type Security = Array<Record<string, string[]>>;

function securityFor(url: string): Security {
  switch (rateLimitClass(url)) {
    case 'admin':
      return [{ adminKey: [] }];
    case 'api':
      return [{ apiKey: [] }];
    default:
      // Apple authenticates by signature (V2) or shared secret (V1); probes are open.
      return [];
  }
}

const APP_HEADER_DESCRIPTION =
  "The app (APPS_FILE `id`) the request acts for. An app's key acts for its own app (naming another: 403 APP_FORBIDDEN); " +
  'a key of API_KEYS with APPS_FILE must name one (without: 400 APP_REQUIRED); an admin key names one where the installation ' +
  'has several. An id of no app: 400 UNKNOWN_APP. Without APPS_FILE the one app is `default` and the header may be left out.';

/** The route's header schema with X-App-Id added (documentation only: requireApiKey / requireAdminKey check it). */
function withAppHeader(headers: unknown): Record<string, unknown> {
  const own = (headers ?? {}) as { properties?: Record<string, unknown> };
  return {
    type: 'object',
    ...own,
    properties: { ...own.properties, [APP_ID_HEADER]: { type: 'string', description: APP_HEADER_DESCRIPTION } },
  };
}

/** Registers @fastify/swagger (before any route, so it sees them all) and serves `/docs`, `/docs/openapi.json`. */
export async function installOpenApi(app: FastifyInstance, { version }: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'App Store Entitlements',
        description:
          'Receives App Store Server Notifications (V2 and V1), verifies them, records purchases, and answers ' +
          'which entitlements a user has. Errors always have the shape {"error": {"code", "message"}}. ' +
          'Every answer carries an X-Request-Id header: the one the caller sent when it is 1-128 characters of ' +
          "letters, digits and -_.:@=+/, else a generated UUID; it is in the request's log lines. A W3C traceparent " +
          "header continues the caller's trace when tracing (OTEL_EXPORTER_OTLP_ENDPOINT) is on.",
        version,
      },
      tags: [
        { name: 'apple', description: "Called by Apple's App Store" },
        { name: 'entitlements', description: "Called by the app's backend with an API key" },
        { name: 'users', description: "Called by the app's backend with an API key" },
        { name: 'offers', description: "Offer signatures for StoreKit, called by the app's backend with an API key" },
        { name: 'admin', description: 'Operator calls with an admin key' },
        { name: 'operations', description: 'Probes, metrics and this document' },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: "One of API_KEYS, or of an app's apiKeys (APPS_FILE)" },
          adminKey: { type: 'http', scheme: 'bearer', description: 'One of ADMIN_API_KEYS' },
        },
      },
    },
    // Shared schemas keep their names ($id) in components instead of def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url }) => {
      // Answers that come from the rate limiter and the load shedder, not from the route
      // itself; every route is rate-limited (probes too, per client address).
      const response = schema?.response as Record<string, unknown> | undefined;
      const security = schema?.security ?? securityFor(url);
      const documented = {
        ...schema,
        security,
        ...(security.length > 0 ? { headers: withAppHeader(schema?.headers) } : {}),
        ...(response ? { response: { ...response, ...withoutKeys(errorResponses(429, 503), response) } } : {}),
      };
      return { schema: documented, url };
    },
  });

  // The document is complete once every route is registered; both are built on first use.
  const document = async () => app.swagger();
  // /docs/json: the URL this document had before /docs became a page.
  for (const url of ['/docs/openapi.json', '/docs/json']) {
    app.get(url, { schema: { hide: true } }, document);
  }
  let page: string | null = null;
  app.get('/docs', { schema: { hide: true } }, async (_request, reply) => {
    page ??= renderDocsPage(app.swagger() as unknown as OpenApiDocument, '/docs/openapi.json');
    return reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_PAGE_CSP).header('x-content-type-options', 'nosniff').send(page);
  });
}
