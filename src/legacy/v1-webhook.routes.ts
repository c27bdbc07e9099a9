import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { badRequest } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { claimedV1BundleId } from '../notifications/claimed-bundle.js';

// Declared as any JSON on purpose: the body is validated only after its password matched,
// so a caller without the secret cannot learn from schema errors what a valid body is.
const V1Body = Type.Unknown({
  description:
    'An App Store Server Notification V1 body, as Apple sends it: notification_type (INITIAL_BUY, DID_RENEW, ' +
    'DID_RECOVER, INTERACTIVE_RENEWAL, DID_CHANGE_RENEWAL_PREF, DID_CHANGE_RENEWAL_STATUS, DID_FAIL_TO_RENEW, CANCEL, ' +
    "REFUND, REVOKE, CONSUMPTION_REQUEST, PRICE_INCREASE_CONSENT), password (the app's shared secret, compared in " +
    'constant time with APPLE_SHARED_SECRET), environment (PROD or Sandbox), bid (must equal APPLE_BUNDLE_ID), ' +
    'bvrs, auto_renew_status, auto_renew_product_id, original_transaction_id and unified_receipt ' +
    '(latest_receipt, latest_receipt_info[], pending_renewal_info[]).',
  examples: [
    {
      notification_type: 'DID_RENEW',
      password: '<shared secret>',
      environment: 'PROD',
      bid: 'com.example.app',
      unified_receipt: { status: 0, environment: 'Production', latest_receipt: '<base64>', latest_receipt_info: [], pending_renewal_info: [] },
    },
  ],
});

const V1Answer = Type.Object({
  status: Type.Union([Type.Literal('processed'), Type.Literal('duplicate')], {
    description: 'processed: recorded and applied now; duplicate: the same body was recorded before and is not applied again',
  }),
});

export const v1WebhookRoutes: FastifyPluginAsync<{ apps: ServedApps }> = async (instance, { apps }) => {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/webhooks/apple/v1',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Receive an App Store Server Notification V1 (legacy, unsigned)',
        description:
          'Authenticated by the shared secret in `password`. With Server API credentials the body only triggers a fetch of ' +
          "the purchase's signed state; without them its latest_receipt is checked with verifyReceipt, and a body without one " +
          'is recorded but changes nothing (docs/v1-trust.md). V1 data never replaces signed data. 400 FUTURE_DATED: a date ' +
          'more than a minute ahead of the clock. 404 while APPLE_SHARED_SECRET is unset.',
        body: V1Body,
        response: { 200: V1Answer, ...errorResponses(400, 401, 404, 413, 415, 502, 503) },
      },
      // Before the body is read: a disabled endpoint looks like no endpoint.
      // (With several apps: while no app has a shared secret.)
      onRequest: async () => {
        if (!apps.all.some((each) => each.app.sharedSecret !== null)) apps.all[0]!.v1Ingest.assertEnabled();
      },
    },
    async (request) => {
      // The app of its `bid` (only to choose): that app's shared secret and checks then apply.
      const claimed = claimedV1BundleId(request.body);
      const chosen = apps.byBundleId(claimed);
      if (chosen === null) throw badRequest('WRONG_BUNDLE_ID', `The notification names bundle ${JSON.stringify(claimed)}, no app of this installation`);
      chosen.v1Ingest.assertEnabled();
      return { status: (await chosen.v1Ingest.ingest(request.body, request.log)).status };
    },
  );
};
