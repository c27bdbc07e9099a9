import { Type } from 'typebox';
import { PRODUCT_TYPE } from '../apple/types.js';
import { Nullable, NullableDateTime } from '../http/schemas.js';

export const AppAccountTokenResponse = Type.Object(
  {
    appAccountToken: Type.String({
      format: 'uuid',
      examples: ['7e3fb20b-4cdb-47cc-936d-99d65f608138'],
      description: 'Pass to StoreKit as appAccountToken; the same user always gets the same token',
    }),
  },
  { additionalProperties: false },
);

export const TransactionSubmission = Type.Union(
  [
    Type.Object(
      {
        signedTransaction: Type.String({
          minLength: 1,
          description: "StoreKit 2's jwsRepresentation",
          examples: ['eyJhbGciOiJFUzI1NiIsIng1YyI6Wy4uLl19.eyJ0cmFuc2FjdGlvbklkIjoiMjAwMDAwMDAwMDAwMDAwNyJ9.c2ln'],
        }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        transactionId: Type.String({
          minLength: 1,
          maxLength: 64,
          pattern: '^[0-9A-Za-z_-]+$',
          description: 'Fetched from the App Store Server API',
          examples: ['2000000000000007'],
        }),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'Either the signed transaction or its id' },
);

export const TransactionItem = Type.Object(
  {
    transactionId: Type.String({ examples: ['2000000000000007'] }),
    originalTransactionId: Type.String({ examples: ['2000000000000001'] }),
    productId: Type.String({ examples: ['com.example.pro.monthly'] }),
    productType: Type.String({ examples: [PRODUCT_TYPE.autoRenewable] }),
    environment: Type.String({ examples: ['Production'] }),
    purchaseDate: Type.String({ format: 'date-time', examples: ['2026-11-01T10:00:00.000Z'] }),
    expiresDate: NullableDateTime('2026-12-01T10:00:00.000Z'),
    revocationDate: NullableDateTime(null),
    revocationReason: Nullable(Type.Integer(), { examples: [null], description: '0 other, 1 app issue' }),
    ownershipType: Nullable(Type.String(), { examples: ['PURCHASED'] }),
    appAccountToken: Nullable(Type.String({ format: 'uuid' }), { examples: ['7e3fb20b-4cdb-47cc-936d-99d65f608138'] }),
  },
  { additionalProperties: false },
);

export const TransactionsQuery = Type.Object({
  // No maxLength here: an over-long cursor is one the service did not hand out, and
  // decodeCursor answers it with INVALID_CURSOR like any other.
  cursor: Type.Optional(Type.String({ minLength: 1, description: 'nextCursor of the previous page (400 INVALID_CURSOR otherwise)' })),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
});

export const TransactionsResponse = Type.Object(
  {
    userId: Type.String({ examples: ['u-42'] }),
    transactions: Type.Array(TransactionItem, { description: 'Newest purchase first' }),
    nextCursor: Nullable(Type.String(), { examples: [null], description: 'null on the last page' }),
  },
  { additionalProperties: false },
);
