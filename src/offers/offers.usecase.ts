import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto';
import { introductoryOfferEligibilityToken, type OfferTokenSigner, promotionalOfferToken, signPromotionalOffer } from '../apple/offers/index.js';
import type { Clock } from '../clock.js';
import type { OfferSigningKey } from '../config.js';
import { badRequest, type CodedError, InvalidInputError } from '../errors.js';

// Offer signatures for the app's StoreKit purchases: the legacy promotional offer signature
// and Apple's JWS offer and eligibility tokens, signed with the In-App Purchase key.

export interface PromotionalSignatureRequest {
  productId: string;
  offerId: string;
  /** '' (or absent) when the purchase carries no token. */
  appAccountToken?: string | undefined;
}

export interface PromotionalSignature {
  keyIdentifier: string;
  nonce: string;
  timestamp: number;
  signature: string;
}

export interface SignedOfferRequest {
  kind: 'promotional' | 'introductory_eligibility';
  productId: string;
  offerId?: string | undefined;
  transactionId?: string | undefined;
  allowIntroductoryOffer?: boolean | undefined;
}

export interface OffersUsecase {
  /** 400 API_NOT_CONFIGURED without an offer key. */
  promotionalSignature(request: PromotionalSignatureRequest): PromotionalSignature;
  /** 400 API_NOT_CONFIGURED without an offer key or APPLE_ISSUER_ID; 400 VALIDATION_ERROR naming a field the kind needs. */
  signed(request: SignedOfferRequest): Promise<{ jws: string }>;
}

const noOfferKey = (): CodedError =>
  new InvalidInputError(
    'API_NOT_CONFIGURED',
    'No key to sign offers: set APPLE_OFFER_KEY_ID and APPLE_OFFER_PRIVATE_KEY (or APPLE_OFFER_PRIVATE_KEY_FILE), or the App Store Server API credentials',
  );

const noIssuer = (): CodedError =>
  new InvalidInputError('API_NOT_CONFIGURED', 'JWS offers name the issuer: set APPLE_ISSUER_ID (App Store Connect > Users and Access > Integrations)');

const missing = (field: string, kind: string) => badRequest('VALIDATION_ERROR', `body must have required property '${field}' when kind is ${kind}`);

export function createOffersUsecase(deps: {
  offerKey: OfferSigningKey | null;
  bundleId: string;
  clock: Clock;
  /** A fresh lowercase UUID per signature (tests pin it). */
  nonce?: () => string;
}): OffersUsecase {
  const newNonce = deps.nonce ?? randomUUID;
  // Parsed once, on first use: config checked an APPLE_OFFER_PRIVATE_KEY at start-up; the API
  // key (the default) is checked where the API client first uses it, as before.
  let key: KeyObject | undefined;
  const offerKey = () => {
    if (deps.offerKey === null) throw noOfferKey();
    key ??= createPrivateKey(deps.offerKey.privateKey);
    return { config: deps.offerKey, key };
  };

  return {
    promotionalSignature(request) {
      const { config, key } = offerKey();
      const nonce = newNonce().toLowerCase();
      const timestamp = deps.clock().getTime();
      const signature = signPromotionalOffer(key, {
        bundleId: deps.bundleId,
        keyId: config.keyId,
        productId: request.productId,
        offerId: request.offerId,
        appAccountToken: request.appAccountToken ?? '',
        nonce,
        timestamp,
      });
      return { keyIdentifier: config.keyId, nonce, timestamp, signature };
    },

    async signed(request) {
      if (request.kind === 'promotional') {
        if (request.offerId === undefined) throw missing('offerId', request.kind);
        if (request.allowIntroductoryOffer !== undefined) {
          throw badRequest('VALIDATION_ERROR', 'body/allowIntroductoryOffer is only for kind introductory_eligibility');
        }
      } else {
        if (request.allowIntroductoryOffer === undefined) throw missing('allowIntroductoryOffer', request.kind);
        if (request.transactionId === undefined) throw missing('transactionId', request.kind);
        if (request.offerId !== undefined) throw badRequest('VALIDATION_ERROR', 'body/offerId is only for kind promotional');
      }
      const { config, key } = offerKey();
      if (config.issuerId === null) throw noIssuer();
      const signer: OfferTokenSigner = { key, keyId: config.keyId, issuerId: config.issuerId, bundleId: deps.bundleId };
      const context = { nonce: newNonce().toLowerCase(), issuedAt: deps.clock() };
      const jws =
        request.kind === 'promotional'
          ? await promotionalOfferToken(
              signer,
              { productId: request.productId, offerIdentifier: request.offerId!, transactionId: request.transactionId },
              context,
            )
          : await introductoryOfferEligibilityToken(
              signer,
              { productId: request.productId, allowIntroductoryOffer: request.allowIntroductoryOffer!, transactionId: request.transactionId! },
              context,
            );
      return { jws };
    },
  };
}
