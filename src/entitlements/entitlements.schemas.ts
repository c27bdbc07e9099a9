import { type Static, Type } from 'typebox';
import { PRODUCT_TYPE } from '../apple/types.js';
import { Nullable, NullableDateTime } from '../http/schemas.js';
import { PERIOD_TYPES } from './period-type.model.js';

const DateTime = (example: string) => Type.String({ format: 'date-time', examples: [example] });

export const UserIdParams = Type.Object({
  userId: Type.String({
    minLength: 1,
    maxLength: 256,
    // PostgreSQL text cannot hold NUL, and no real user id carries control characters.
    pattern: '^[^\\u0000-\\u001F\\u007F]+$',
    description: "The app's own user id (1-256 characters, no control characters)",
    examples: ['u-42'],
  }),
});
export type UserIdParams = Static<typeof UserIdParams>;

export const Entitlement = Type.Object(
  {
    entitlement: Type.String({ examples: ['pro'] }),
    active: Type.Boolean({ description: 'True exactly for `active` and `grace_period`' }),
    status: Type.Union(
      [Type.Literal('active'), Type.Literal('grace_period'), Type.Literal('billing_retry'), Type.Literal('expired'), Type.Literal('revoked')],
      { description: 'Evaluated at request time' },
    ),
    productId: Nullable(Type.String(), { examples: ['com.example.pro.monthly'], description: 'null for a grant or an app purchase' }),
    productType: Nullable(Type.String(), { examples: [PRODUCT_TYPE.autoRenewable], description: 'null for a grant or an app purchase' }),
    environment: Nullable(Type.String(), {
      examples: ['Production'],
      description: "The purchase's (an app purchase: its AppTransaction's); null for a grant",
    }),
    originalTransactionId: Nullable(Type.String(), { examples: ['2000000000000001'], description: 'null for a grant or an app purchase' }),
    transactionId: Nullable(Type.String(), { examples: ['2000000000000007'], description: 'null for a grant or an app purchase' }),
    purchaseDate: Nullable(Type.String({ format: 'date-time' }), {
      examples: ['2026-11-01T10:00:00.000Z'],
      description: "A grant: when it was given; an app purchase: the AppTransaction's originalPurchaseDate",
    }),
    originalPurchaseDate: Nullable(Type.String({ format: 'date-time' }), { examples: ['2026-05-01T10:00:00.000Z'] }),
    expiresDate: Nullable(Type.String({ format: 'date-time' }), {
      examples: ['2026-12-01T10:00:00.000Z'],
      description:
        "A non-renewing subscription's is purchaseDate + its ENTITLEMENTS_FILE duration; a grant's is its end (or when it was ended); " +
        'null for what lasts until revoked and for an app purchase',
    }),
    gracePeriodExpiresDate: NullableDateTime(null),
    willRenew: Nullable(Type.Boolean(), {
      examples: [true],
      description: 'null unless an auto-renewable subscription with renewal info that describes the current period',
    }),
    autoRenewProductId: Nullable(Type.String(), { examples: ['com.example.pro.monthly'] }),
    ownershipType: Nullable(Type.String(), { examples: ['PURCHASED'] }),
    revocationDate: NullableDateTime(null),
    revocationReason: Nullable(Type.Integer(), { examples: [null], description: "Apple's revocationReason: 0 other, 1 an issue in the app" }),
    revocationType: Nullable(Type.String(), { examples: [null], description: 'REFUND_FULL, REFUND_PRORATED or FAMILY_REVOKE' }),
    revocationPercentage: Nullable(Type.Integer(), {
      examples: [null],
      description: 'Share refunded, in thousandths of a percent (50000 = 50 %), for a prorated refund',
    }),
    periodType: Nullable(Type.String(), {
      enum: [...PERIOD_TYPES, null],
      examples: ['normal'],
      description:
        "The current period: from Apple's offerType (1 introductory: `trial` when free, `intro` otherwise; 2 `promotional`; " +
        '3 `offer_code`; 4 `win_back`) or `normal` without an offer; null for an offer type Apple adds later',
    }),
    offerIdentifier: Nullable(Type.String(), { examples: [null], description: 'The promotional offer, offer code or win-back offer of the current period' }),
    price: Nullable(Type.Integer(), { examples: [9990], description: "Apple's price of the current period, in milliunits of `currency`" }),
    currency: Nullable(Type.String(), { examples: ['USD'], description: 'ISO 4217' }),
    renewalPrice: Nullable(Type.Integer(), { examples: [9990], description: 'What the next renewal charges, in milliunits of `renewalCurrency`' }),
    renewalCurrency: Nullable(Type.String(), { examples: ['USD'] }),
    renewalDate: NullableDateTime('2026-12-01T10:00:00.000Z'),
    expirationIntent: Nullable(Type.Integer(), {
      examples: [null],
      description: "Apple's expirationIntent: 1 cancelled, 2 billing error, 3 price increase not accepted, 4 product not for sale, 5 other",
    }),
    priceIncreaseStatus: Nullable(Type.Integer(), { examples: [null], description: '0 not yet accepted, 1 accepted (or no consent needed)' }),
    source: Type.String({
      enum: ['app_store', 'grant', 'app_purchase'],
      examples: ['app_store'],
      description: "`app_store` (a purchase), `grant` (an operator's grant) or `app_purchase` (catalog `appPurchase`)",
    }),
    updatedAt: DateTime('2026-11-01T10:00:05.000Z'),
  },
  { additionalProperties: false },
);

export const EntitlementsResponse = Type.Object(
  {
    userId: Type.String({ examples: ['u-42'] }),
    entitlements: Type.Array(Entitlement),
  },
  {
    additionalProperties: false,
    description:
      'One entry per entitlement id (an unknown user has none); among purchases granting one: active first, then Production before Sandbox, then the later expiry. ' +
      'Across sources: an entry that gives access wins over one that does not; between equals, an App Store purchase, then an app purchase, then a grant',
  },
);
export type EntitlementsResponse = Static<typeof EntitlementsResponse>;

export const ENTITLEMENT_ENVIRONMENTS = ['Production', 'Sandbox'] as const;
export type EntitlementEnvironment = (typeof ENTITLEMENT_ENVIRONMENTS)[number];

export const EntitlementsQuery = Type.Object({
  refresh: Type.Boolean({
    default: false,
    description: 'Ask the App Store Server API for current subscription statuses first (when credentials are set)',
  }),
  environment: Type.Optional(
    Type.Union(
      ENTITLEMENT_ENVIRONMENTS.map((environment) => Type.Literal(environment)),
      {
        description:
          'Answer from purchases of this environment only (e.g. a production backend that must not honour TestFlight or ' +
          'Sandbox purchases); without it both count. With `refresh=true` only that environment is refreshed. Another value is `400 VALIDATION_ERROR`.',
      },
    ),
  ),
});

export const STALE_HEADER = 'x-entitlements-stale';
