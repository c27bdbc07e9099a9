export {
  INTRODUCTORY_OFFER_ELIGIBILITY_AUDIENCE,
  introductoryOfferEligibilityToken,
  type OfferTokenContext,
  type OfferTokenSigner,
  PROMOTIONAL_OFFER_AUDIENCE,
  promotionalOfferToken,
} from './offer-tokens.js';
export { PROMOTIONAL_OFFER_SEPARATOR, type PromotionalOfferFields, promotionalOfferPayload, signPromotionalOffer } from './promotional-offer-signature.js';
