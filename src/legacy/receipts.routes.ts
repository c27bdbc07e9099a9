import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EntitlementsResponse, UserIdParams } from '../entitlements/entitlements.schemas.js';
import { requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { canonicalUserId } from '../users/app-account-token.model.js';

const ReceiptSubmission = Type.Object(
  {
    receipt: Type.String({
      minLength: 1,
      // Receipts with years of renewals reach a few tens of KB; the body limit caps the rest.
      description: 'The base64 app receipt (StoreKit 1 `appStoreReceiptURL` contents)',
    }),
  },
  { additionalProperties: false },
);

export const receiptsRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireApiKey(app.keys.app));

  app.post(
    '/users/:userId/receipts',
    {
      schema: {
        tags: ['users'],
        summary: "Link every purchase in a StoreKit 1 app receipt to the user and answer with the user's entitlements",
        description:
          "The receipt's signature must chain to Apple Inc. Root and its bundle id must be APPLE_BUNDLE_ID. Only its " +
          "transaction ids are used: each purchase is fetched signed from the App Store Server API (in the receipt's " +
          'environment), recorded, and linked to the user. A purchase linked to another user moves ' +
          '(TRANSFER_POLICY=transfer) or is refused with 409 ALREADY_LINKED (keep); a purchase carrying another ' +
          "user's appAccountToken refuses the whole receipt with 409 TOKEN_BELONGS_TO_OTHER_USER. 400 FUTURE_DATED: a date " +
          'more than a minute ahead of the clock. Needs Server API credentials: 400 API_NOT_CONFIGURED without them.',
        params: UserIdParams,
        body: ReceiptSubmission,
        response: { 200: EntitlementsResponse, ...errorResponses(400, 401, 409, 502, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const linked = await apps.of(request).receipts.linkReceipt(userId, request.body.receipt);
      request.log.info({ userId, linked }, 'receipt purchases linked');
      // Stored data only: the receipt's purchases were just fetched from the App Store.
      const answer = await apps.of(request).entitlements.entitlementsOf(userId, { refresh: 'never' });
      return { userId, entitlements: answer.entitlements };
    },
  );
};
