import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses, NullableDateTime } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { NOT_YET_APPLIED } from './extensions.usecase.js';

const Environment = Type.Union([Type.Literal('Production'), Type.Literal('Sandbox')]);

const EnvironmentQuery = Type.Object(
  {
    environment: Type.Optional(
      Type.Union([Type.Literal('Production'), Type.Literal('Sandbox')], {
        description: "Which App Store environment; default: the purchase's own when recorded, else Production when accepted, else Sandbox",
      }),
    ),
  },
  { additionalProperties: false },
);

const Days = Type.Integer({ minimum: 1, maximum: 90, description: 'Days to add to the renewal date (Apple allows 1..90)', examples: [7] });
const Reason = Type.Integer({
  minimum: 0,
  maximum: 3,
  description: "Apple's extendReasonCode: 0 undeclared, 1 customer satisfaction, 2 other, 3 service issue or outage",
  examples: [3],
});

const ExtendBody = Type.Object({ days: Days, reason: Reason }, { additionalProperties: false, examples: [{ days: 7, reason: 3 }] });

const MassExtendBody = Type.Object(
  {
    productId: Type.String({ minLength: 1, maxLength: 200, examples: ['com.example.pro.monthly'] }),
    days: Days,
    reason: Reason,
    storefronts: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Z]{3}$' }), {
        minItems: 1,
        maxItems: 200,
        description: 'Only subscribers of these storefronts (ISO 3166-1 alpha-3 codes, e.g. USA); default: all',
        examples: [['USA', 'CAN']],
      }),
    ),
  },
  { additionalProperties: false, examples: [{ productId: 'com.example.pro.monthly', days: 3, reason: 3 }] },
);

const NotApplied = {
  applied: Type.Literal(false, { description: 'Always false: the stored subscription changes only with Apple’s RENEWAL_EXTENDED notification' }),
  note: Type.String({ examples: [NOT_YET_APPLIED] }),
};

const SingleResponse = Type.Object(
  {
    requestId: Type.String({ format: 'uuid', description: 'The requestIdentifier sent to Apple (recorded with the request)' }),
    originalTransactionId: Type.String({ examples: ['2000000000000001'] }),
    environment: Environment,
    accepted: Type.Boolean({ description: "Apple's success" }),
    effectiveDate: NullableDateTime('2026-12-08T10:00:00.000Z'),
    ...NotApplied,
  },
  {
    examples: [
      {
        requestId: '7c0ad8a8-2b4f-4a8b-9c53-000000000001',
        originalTransactionId: '2000000000000001',
        environment: 'Production',
        accepted: true,
        effectiveDate: '2026-12-08T10:00:00.000Z',
        applied: false,
        note: NOT_YET_APPLIED,
      },
    ],
  },
);

const MassResponse = Type.Object({
  requestId: Type.String({ format: 'uuid', description: 'Pass it to GET /admin/subscriptions/extend/:productId/:requestId' }),
  productId: Type.String(),
  environment: Environment,
  ...NotApplied,
});

const ProgressResponse = Type.Object(
  {
    requestId: Type.String(),
    productId: Type.String(),
    environment: Environment,
    complete: Type.Boolean({ description: 'Apple has gone through every eligible subscriber' }),
    completeDate: NullableDateTime('2026-12-01T11:00:00.000Z'),
    succeededCount: Type.Union([Type.Integer(), Type.Null()], { description: 'Subscriptions extended so far (null until Apple says)' }),
    failedCount: Type.Union([Type.Integer(), Type.Null()], { description: 'Subscriptions Apple could not extend' }),
  },
  {
    examples: [
      {
        requestId: '7c0ad8a8-2b4f-4a8b-9c53-000000000002',
        productId: 'com.example.pro.monthly',
        environment: 'Production',
        complete: true,
        completeDate: '2026-12-01T11:00:00.000Z',
        succeededCount: 1200,
        failedCount: 3,
      },
    ],
  },
);

const OriginalTransactionIdParams = Type.Object({
  originalTransactionId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z_-]+$', examples: ['2000000000000001'] }),
});

const ProgressParams = Type.Object({
  productId: Type.String({ minLength: 1, maxLength: 200 }),
  requestId: Type.String({ minLength: 1, maxLength: 128 }),
});

const COMMON =
  '400 VALIDATION_ERROR names the invalid field (days 1..90, reason 0..3); API_NOT_CONFIGURED without App Store Server API ' +
  'credentials; 503 APP_STORE_UNAVAILABLE when Apple is away or busy (nothing recorded: send it again); 502 when Apple refuses our request.';

export const extensionsRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.post(
    '/admin/subscriptions/:originalTransactionId/extend',
    {
      schema: {
        tags: ['admin'],
        summary: "Extend one subscription's renewal date (Apple's Extend a Subscription Renewal Date)",
        description:
          'Sends a new requestIdentifier (UUID) to Apple and records the request (who asked: the admin key id, and Apple’s answer). ' +
          'The stored subscription is not changed here: Apple sends RENEWAL_EXTENDED with the new expiresDate, and that applies it ' +
          `(applied: false). 404 TRANSACTION_NOT_FOUND when Apple knows no such subscription; 409 EXTENSION_NOT_ALLOWED when Apple ` +
          `refuses it (ineligible, family shared, or the yearly limit reached). ${COMMON}`,
        params: OriginalTransactionIdParams,
        querystring: EnvironmentQuery,
        body: ExtendBody,
        response: { 200: SingleResponse, ...errorResponses(400, 401, 403, 404, 409, 502, 503) },
      },
    },
    async (request) =>
      apps.of(request).extensions.extendOne(request.params.originalTransactionId, {
        days: request.body.days,
        reason: request.body.reason,
        ...(request.query.environment !== undefined ? { environment: request.query.environment } : {}),
        requestedBy: request.apiKeyId ?? 'unknown',
      }),
  );

  app.post(
    '/admin/subscriptions/extend',
    {
      schema: {
        tags: ['admin'],
        summary: "Extend the renewal date of every active subscriber of a product (Apple's mass extension)",
        description:
          'Apple works through the subscribers in the background: follow it with GET /admin/subscriptions/extend/:productId/:requestId. ' +
          `Each extended subscription arrives as RENEWAL_EXTENDED and is applied then (applied: false). ${COMMON}`,
        querystring: EnvironmentQuery,
        body: MassExtendBody,
        response: { 200: MassResponse, ...errorResponses(400, 401, 403, 404, 409, 502, 503) },
      },
    },
    async (request) =>
      apps.of(request).extensions.extendAll(request.body.productId, {
        days: request.body.days,
        reason: request.body.reason,
        ...(request.body.storefronts !== undefined ? { storefronts: request.body.storefronts } : {}),
        ...(request.query.environment !== undefined ? { environment: request.query.environment } : {}),
        requestedBy: request.apiKeyId ?? 'unknown',
      }),
  );

  app.get(
    '/admin/subscriptions/extend/:productId/:requestId',
    {
      schema: {
        tags: ['admin'],
        summary: "A mass extension's progress (Apple's Get Status of Subscription Renewal Date Extensions)",
        description:
          'Ask the environment the request went to. 404 EXTENSION_REQUEST_NOT_FOUND when Apple knows no such request; 503 when Apple is unavailable.',
        params: ProgressParams,
        querystring: EnvironmentQuery,
        response: { 200: ProgressResponse, ...errorResponses(400, 401, 403, 404, 502, 503) },
      },
    },
    async (request) => apps.of(request).extensions.progress(request.params.productId, request.params.requestId, request.query.environment),
  );
};
