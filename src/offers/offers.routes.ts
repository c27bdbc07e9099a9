import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { PromotionalSignatureBody, PromotionalSignatureResponse, SignedOfferBody, SignedOfferResponse } from './offers.schemas.js';

const KEY_NOTE =
  'Signed with the In-App Purchase key APPLE_OFFER_KEY_ID / APPLE_OFFER_PRIVATE_KEY, or the App Store Server API key when those are unset; ' +
  'without either: 400 API_NOT_CONFIGURED.';

export const offersRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireApiKey(app.keys.app));

  app.post(
    '/offers/promotional-signature',
    {
      schema: {
        tags: ['offers'],
        summary: 'Sign a promotional offer for StoreKit',
        description:
          "Apple's promotional offer signature: ECDSA P-256 SHA-256 over bundle id, key id, product id, offer id, appAccountToken, " +
          'nonce and timestamp joined by U+2063, with a fresh nonce and the current time. Pass the four fields to ' +
          `Product.PurchaseOption.promotionalOffer (or SKPaymentDiscount). ${KEY_NOTE} 400 VALIDATION_ERROR naming the field otherwise.`,
        body: PromotionalSignatureBody,
        response: { 200: PromotionalSignatureResponse, ...errorResponses(400, 401) },
      },
    },
    async (request) => apps.of(request).offers.promotionalSignature(request.body),
  );

  app.post(
    '/offers/signed',
    {
      schema: {
        tags: ['offers'],
        summary: "Apple's JWS promotional offer or introductory-offer eligibility token",
        description:
          "As Apple's app-store-server-library 3.x creates them (PromotionalOfferV2SignatureCreator, " +
          'IntroductoryOfferEligibilitySignatureCreator): audience promotional-offer or introductory-offer-eligibility, issuer ' +
          `APPLE_ISSUER_ID (required: 400 API_NOT_CONFIGURED without it), a fresh nonce. ${KEY_NOTE} 400 VALIDATION_ERROR naming ` +
          'a missing or invalid field (offerId for promotional; allowIntroductoryOffer and transactionId for introductory_eligibility).',
        body: SignedOfferBody,
        response: { 200: SignedOfferResponse, ...errorResponses(400, 401) },
      },
    },
    async (request) => apps.of(request).offers.signed(request.body),
  );
};
