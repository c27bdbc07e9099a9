import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { UserIdParams } from '../entitlements/entitlements.schemas.js';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { canonicalUserId } from '../users/app-account-token.model.js';

const GrantBody = Type.Object(
  {
    entitlement: Type.String({ minLength: 1, maxLength: 256, description: 'The entitlement id to give (as GET /entitlements names it)', examples: ['pro'] }),
    expiresDate: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'When it ends, ISO 8601, in the future (or give `duration`)',
        examples: ['2027-01-01T00:00:00Z'],
      }),
    ),
    duration: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'How long from now, ISO 8601 (`P1M`, `P7D`, `PT12H`; or give `expiresDate`)',
        examples: ['P1M'],
      }),
    ),
    reason: Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'Why (kept with the grant, for support and audit)',
      examples: ['support ticket 4821: outage'],
    }),
  },
  { additionalProperties: false, examples: [{ entitlement: 'pro', duration: 'P1M', reason: 'support ticket 4821: outage' }] },
);

const GrantResponse = Type.Object(
  {
    grantId: Type.String({ examples: ['grt_3f6c1f9e-8a0b-4c1d-9e2f-5a7b6c8d9e01'] }),
    expiresDate: Type.String({ format: 'date-time', description: 'When it ends', examples: ['2027-01-01T00:00:00.000Z'] }),
  },
  { additionalProperties: false },
);

const GrantParams = Type.Object({
  ...UserIdParams.properties,
  grantId: Type.String({ minLength: 1, maxLength: 64, description: 'The grantId POST answered', examples: ['grt_3f6c1f9e-8a0b-4c1d-9e2f-5a7b6c8d9e01'] }),
});

const EndQuery = Type.Object(
  {
    reason: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1000, description: 'Why it ends early (kept with the grant)', examples: ['granted by mistake'] }),
    ),
  },
  { additionalProperties: false },
);

const EndResponse = Type.Object(
  {
    grantId: Type.String(),
    expiresDate: Type.String({
      format: 'date-time',
      description: 'When it stopped giving access: now, or its earlier end',
      examples: ['2026-12-01T10:00:00.000Z'],
    }),
    alreadyEnded: Type.Boolean({ description: 'True when it had already ended (early or by running out): nothing changed' }),
  },
  { additionalProperties: false },
);

export const grantsRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.post(
    '/admin/users/:userId/grants',
    {
      schema: {
        tags: ['admin'],
        summary: 'Give a user an entitlement without a purchase (support, beta users)',
        description:
          'The user\'s answer (GET /entitlements/:userId) shows it with `source: "grant"` (productId and the Apple fields null) ' +
          'while it gives access no purchase gives, `active` until its end and `expired` after; an `entitlements.updated` event ' +
          "follows at once, and again within a minute of its end. Recorded with the reason and the admin key's id (the first 12 hex " +
          "digits of the key's SHA-256, never the key). Exactly one of `expiresDate` and `duration`. 400 VALIDATION_ERROR (a field " +
          'missing, blank, unknown, or both/neither of expiresDate and duration), INVALID_DATE, DATE_IN_PAST (expiresDate), ' +
          'INVALID_DURATION (duration); each message names the field.',
        params: UserIdParams,
        body: GrantBody,
        response: { 200: GrantResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const granted = await apps.of(request).grants.grant(userId, request.body, { keyId: request.apiKeyId! });
      return { grantId: granted.grantId, expiresDate: granted.expiresDate.toISOString() };
    },
  );

  app.delete(
    '/admin/users/:userId/grants/:grantId',
    {
      schema: {
        tags: ['admin'],
        summary: 'End a grant now',
        description:
          "The user's answer shows it `expired` from now (an `entitlements.updated` event follows when that changes the answer). " +
          'Idempotent: a grant that has already ended (early, or by running out) stays as it is and answers `alreadyEnded: true`. ' +
          "Recorded with the admin key's id and the optional reason. 404 GRANT_NOT_FOUND for a grant this user does not have.",
        params: GrantParams,
        querystring: EndQuery,
        response: { 200: EndResponse, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const ended = await apps.of(request).grants.end(userId, request.params.grantId, { keyId: request.apiKeyId! }, request.query.reason ?? null);
      return { grantId: ended.grantId, expiresDate: ended.expiresDate.toISOString(), alreadyEnded: ended.alreadyEnded };
    },
  );
};
