import { createSign, type KeyObject } from 'node:crypto';

// Apple's promotional offer signature (StoreKit's Product.PurchaseOption.promotionalOffer and
// SKPaymentDiscount): ECDSA P-256 with SHA-256 over the fields joined by U+2063 (invisible
// separator), DER-encoded and base64, as Apple documents it in "Generating a signature for
// promotional offers" and as its library's PromotionalOfferSignatureCreator signs.

export const PROMOTIONAL_OFFER_SEPARATOR = '\u2063';

export interface PromotionalOfferFields {
  bundleId: string;
  keyId: string;
  productId: string;
  offerId: string;
  /** The token (or applicationUsername) the purchase will carry; '' for none. Lowercased. */
  appAccountToken: string;
  /** A fresh UUID per signature; lowercased. */
  nonce: string;
  /** Milliseconds since the epoch; StoreKit accepts the signature for 24 hours from it. */
  timestamp: number;
}

/** The exact string that is signed. */
export function promotionalOfferPayload(fields: PromotionalOfferFields): string {
  return [
    fields.bundleId,
    fields.keyId,
    fields.productId,
    fields.offerId,
    fields.appAccountToken.toLowerCase(),
    fields.nonce.toLowerCase(),
    String(fields.timestamp),
  ].join(PROMOTIONAL_OFFER_SEPARATOR);
}

/** The base64 DER ECDSA signature StoreKit expects. */
export function signPromotionalOffer(key: KeyObject, fields: PromotionalOfferFields): string {
  const signer = createSign('SHA256');
  signer.update(promotionalOfferPayload(fields), 'utf8');
  return signer.sign(key).toString('base64');
}
