import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { readUnverifiedPayload } from '../apple/verifier/index.js';
import { badRequest } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { claimedBundleId } from './claimed-bundle.js';

// A notification with its nested JWS and three-certificate chains is a few tens of KB;
// the bound keeps a hostile body from reaching the verifier at all.
export const SIGNED_PAYLOAD_MAX_LENGTH = 200_000;

const WebhookBody = Type.Object(
  {
    // Its length is checked in the handler: the schema validator would count the code
    // points of every ~14 KB payload one by one (a few percent of the ingest's CPU).
    signedPayload: Type.String({
      description: `App Store Server Notification V2: a JWS signed by Apple's certificate chain (1 to ${SIGNED_PAYLOAD_MAX_LENGTH} characters)`,
    }),
  },
  { description: "Apple's responseBodyV2" },
);

const WebhookResponse = Type.Object({
  status: Type.Union([Type.Literal('processed'), Type.Literal('duplicate')], {
    description: '`duplicate` when this notificationUUID was already recorded',
  }),
});

export const webhookRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  // Apple posts JSON. Any other body is a malformed notification (400, per SPEC.md's
  // webhook contract) rather than the app-wide 415; the parser applies to this plugin only.
  app.addContentTypeParser('*', (_request, _payload, done) => {
    done(badRequest('UNSUPPORTED_MEDIA_TYPE', 'The notification must be sent as application/json'), undefined);
  });

  app.post(
    '/webhooks/apple/v2',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'App Store Server Notifications V2',
        description:
          'Verifies the notification and its nested JWS, records it once by notificationUUID and applies it. ' +
          '400: malformed or failed verification, or FUTURE_DATED (a date more than a minute ahead of the clock; ' +
          'nothing written); 503: transient failure, Apple retries.',
        body: WebhookBody,
        response: { 200: WebhookResponse, ...errorResponses(400, 503) },
      },
    },
    async (request) => {
      const length = request.body.signedPayload.length;
      if (length === 0 || length > SIGNED_PAYLOAD_MAX_LENGTH) {
        throw badRequest('VALIDATION_ERROR', `body/signedPayload must be 1 to ${SIGNED_PAYLOAD_MAX_LENGTH} characters long`);
      }
      // The app its payload names (unverified, only to choose); that app's verifier then checks
      // every signature and that the payload and its nested data are all that app's.
      const unverified = readUnverifiedPayload(request.body.signedPayload);
      const claimed = claimedBundleId(unverified);
      const chosen = apps.byBundleId(claimed) ?? (claimed === null ? apps.all[0]! : null);
      if (chosen === null) throw badRequest('WRONG_BUNDLE_ID', `The notification names bundle ${JSON.stringify(claimed)}, no app of this installation`);
      const { status } = await chosen.ingest.ingest({ signedPayload: request.body.signedPayload, source: 'webhook', unverified }, request.log);
      return { status };
    },
  );
};
