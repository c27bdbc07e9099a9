import { Type } from 'typebox';

// Apple's product and offer identifiers are visible ASCII; anything else (the signature's
// U+2063 separator above all) could only make a signature StoreKit refuses.
const AppleIdentifier = (description: string, example: string) =>
  Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$', description, examples: [example] });

const TransactionId = (description: string) =>
  Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z_-]+$', description, examples: ['2000000000000007'] });

const UUID_OR_EMPTY = '^$|^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$';

export const PromotionalSignatureBody = Type.Object(
  {
    productId: AppleIdentifier('The subscription product the offer is for', 'com.example.pro.monthly'),
    offerId: AppleIdentifier('The promotional offer identifier set up in App Store Connect', 'winback_50'),
    appAccountToken: Type.Optional(
      Type.String({
        maxLength: 36,
        pattern: UUID_OR_EMPTY,
        description:
          "The appAccountToken the purchase will carry (GET /users/:userId/app-account-token), or '' / absent when it carries none; " +
          'signed lowercased, as Apple requires',
        examples: ['7e3fb20b-4cdb-47cc-936d-99d65f608138'],
      }),
    ),
  },
  { additionalProperties: false },
);

export const PromotionalSignatureResponse = Type.Object(
  {
    keyIdentifier: Type.String({ description: 'The In-App Purchase key id (APPLE_OFFER_KEY_ID, else APPLE_KEY_ID)', examples: ['2X9R4HXF34'] }),
    nonce: Type.String({ format: 'uuid', description: 'A fresh lowercase UUID, signed with the rest', examples: ['9f1d2c3b-0c4e-4b8a-9d2e-6a7b8c9d0e1f'] }),
    timestamp: Type.Integer({ description: 'Milliseconds since the epoch; StoreKit accepts the signature for 24 hours', examples: [1764583200000] }),
    signature: Type.String({ description: 'Base64 DER ECDSA P-256 SHA-256 signature', examples: ['MEUCIQD…'] }),
  },
  { additionalProperties: false },
);

export const SignedOfferBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('promotional'), Type.Literal('introductory_eligibility')], {
      description: "promotional: Apple's promotional offer V2 token; introductory_eligibility: the introductory-offer eligibility token",
    }),
    productId: AppleIdentifier('The product the token is for', 'com.example.pro.monthly'),
    offerId: Type.Optional(AppleIdentifier('promotional only, required: the promotional offer identifier (claim offerIdentifier)', 'winback_50')),
    transactionId: Type.Optional(
      TransactionId(
        'Any transaction id of the customer, or their appTransactionId: optional (recommended) for promotional, required for introductory_eligibility',
      ),
    ),
    allowIntroductoryOffer: Type.Optional(
      Type.Boolean({ description: 'introductory_eligibility only, required: whether the customer may have the introductory offer' }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      { kind: 'promotional', productId: 'com.example.pro.monthly', offerId: 'winback_50', transactionId: '2000000000000007' },
      { kind: 'introductory_eligibility', productId: 'com.example.pro.monthly', allowIntroductoryOffer: false, transactionId: '2000000000000007' },
    ],
  },
);

export const SignedOfferResponse = Type.Object(
  {
    jws: Type.String({
      description: "Compact JWS (ES256, header kid and typ JWT; claims iss, aud, iat, bid, nonce and the kind's own): pass to StoreKit as is",
      examples: ['eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjJYOVI0SFhGMzQifQ.eyJwcm9kdWN0SWQiOiJjb20uZXhhbXBsZS5wcm8ubW9udGhseSJ9.c2ln'],
    }),
  },
  { additionalProperties: false },
);
