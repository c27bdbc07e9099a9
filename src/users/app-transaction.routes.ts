import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EntitlementsResponse, UserIdParams } from '../entitlements/entitlements.schemas.js';
import { requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { canonicalUserId } from './app-account-token.model.js';

const AppTransactionSubmission = Type.Object(
  {
    signedAppTransaction: Type.String({
      minLength: 1,
      maxLength: 65_536,
      description: "StoreKit 2's AppTransaction.jwsRepresentation",
      examples: ['eyJhbGciOiJFUzI1NiIsIng1YyI6Wy4uLl19.eyJidW5kbGVJZCI6ImNvbS5leGFtcGxlLmFwcCJ9.c2ln'],
    }),
  },
  { additionalProperties: false },
);

export const appTransactionRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireApiKey(app.keys.app));

  app.post(
    '/users/:userId/app-transaction',
    {
      schema: {
        tags: ['users'],
        summary: "Record the user's AppTransaction (who bought the app itself) and answer with the user's entitlements",
        description:
          'Verified like a notification (signature, chain to a trusted root, bundle id, app id, environment); keeps ' +
          'appTransactionId, originalApplicationVersion, originalPurchaseDate, the environment and the JWS. A user has one: ' +
          'a newer signedDate replaces the stored one, an older or equal one changes nothing. With ENTITLEMENTS_FILE ' +
          '`appPurchase`, an originalApplicationVersion before `beforeVersion` (dot-separated numbers: 1.10 is after 1.9) holds ' +
          'that entitlement for life (`source: "app_purchase"`, `expiresDate: null`). 400 with the verifier\'s code (e.g. ' +
          'INVALID_SIGNATURE, UNTRUSTED_ROOT, WRONG_BUNDLE_ID), FUTURE_DATED for a date more than a minute ahead.',
        params: UserIdParams,
        body: AppTransactionSubmission,
        response: { 200: EntitlementsResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const { entitlements } = await apps.of(request).appTransactions.record(userId, request.body.signedAppTransaction);
      return { userId, entitlements };
    },
  );
};
