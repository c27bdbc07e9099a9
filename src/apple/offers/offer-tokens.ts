import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

// Apple's JWS-signed StoreKit requests ("Generating JWS to sign App Store requests"): the
// promotional offer V2 token and the introductory-offer eligibility token. Header and claims
// as Apple's app-store-server-library 3.x creates them (PromotionalOfferV2SignatureCreator,
// IntroductoryOfferEligibilitySignatureCreator): ES256, `kid` and `typ: JWT` in the header;
// `iss`, `aud`, `iat`, `bid`, `nonce` and the feature's own claims in the payload.

export const PROMOTIONAL_OFFER_AUDIENCE = 'promotional-offer';
export const INTRODUCTORY_OFFER_ELIGIBILITY_AUDIENCE = 'introductory-offer-eligibility';

export interface OfferTokenSigner {
  key: KeyObject;
  keyId: string;
  issuerId: string;
  bundleId: string;
}

export interface OfferTokenContext {
  /** A fresh UUID per token. */
  nonce: string;
  /** The token's `iat`. */
  issuedAt: Date;
}

async function sign(signer: OfferTokenSigner, audience: string, claims: Record<string, unknown>, context: OfferTokenContext): Promise<string> {
  return new SignJWT({ ...claims, bid: signer.bundleId, nonce: context.nonce })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: signer.keyId })
    .setIssuedAt(Math.floor(context.issuedAt.getTime() / 1000))
    .setIssuer(signer.issuerId)
    .setAudience(audience)
    .sign(signer.key);
}

/** Promotional offer V2: `productId`, `offerIdentifier` and, when given, `transactionId`. */
export function promotionalOfferToken(
  signer: OfferTokenSigner,
  offer: { productId: string; offerIdentifier: string; transactionId?: string | undefined },
  context: OfferTokenContext,
): Promise<string> {
  const claims: Record<string, unknown> = { productId: offer.productId, offerIdentifier: offer.offerIdentifier };
  if (offer.transactionId !== undefined) claims.transactionId = offer.transactionId;
  return sign(signer, PROMOTIONAL_OFFER_AUDIENCE, claims, context);
}

/** Introductory-offer eligibility: `productId`, `allowIntroductoryOffer`, `transactionId`. */
export function introductoryOfferEligibilityToken(
  signer: OfferTokenSigner,
  input: { productId: string; allowIntroductoryOffer: boolean; transactionId: string },
  context: OfferTokenContext,
): Promise<string> {
  return sign(
    signer,
    INTRODUCTORY_OFFER_ELIGIBILITY_AUDIENCE,
    { productId: input.productId, allowIntroductoryOffer: input.allowIntroductoryOffer, transactionId: input.transactionId },
    context,
  );
}
