import { Type, type Static } from 'typebox';
import { Nullable, NullableDateTime } from '../http/schemas.js';

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
      [
        Type.Literal('active'),
        Type.Literal('grace_period'),
        Type.Literal('billing_retry'),
        Type.Literal('expired'),
        Type.Literal('revoked'),
      ],
      { description: 'Evaluated at request time' },
    ),
    productId: Type.String({ examples: ['com.example.pro.monthly'] }),
    productType: Type.String({ examples: ['Auto-Renewable Subscription'] }),
    environment: Type.String({ examples: ['Production'] }),
    originalTransactionId: Type.String({ examples: ['2000000000000001'] }),
    transactionId: Type.String({ examples: ['2000000000000007'] }),
    purchaseDate: DateTime('2026-11-01T10:00:00.000Z'),
    originalPurchaseDate: DateTime('2026-05-01T10:00:00.000Z'),
    expiresDate: NullableDateTime('2026-12-01T10:00:00.000Z'),
    gracePeriodExpiresDate: NullableDateTime(null),
    willRenew: Nullable(Type.Boolean(), { examples: [true], description: 'null unless an auto-renewable subscription with known renewal info' }),
    autoRenewProductId: Nullable(Type.String(), { examples: ['com.example.pro.monthly'] }),
    ownershipType: Nullable(Type.String(), { examples: ['PURCHASED'] }),
    revocationDate: NullableDateTime(null),
    updatedAt: DateTime('2026-11-01T10:00:05.000Z'),
  },
  { additionalProperties: false },
);

export const EntitlementsResponse = Type.Object(
  {
    userId: Type.String({ examples: ['u-42'] }),
    entitlements: Type.Array(Entitlement),
  },
  { additionalProperties: false, description: 'One entry per entitlement id; an unknown user has none' },
);
export type EntitlementsResponse = Static<typeof EntitlementsResponse>;

export const EntitlementsQuery = Type.Object({
  refresh: Type.Boolean({
    default: false,
    description: 'Ask the App Store Server API for current subscription statuses first (when credentials are set)',
  }),
});

export const STALE_HEADER = 'x-entitlements-stale';
