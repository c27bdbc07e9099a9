import { Type } from 'typebox';
import { Nullable, NullableDateTime } from '../http/schemas.js';
import { CONSUMPTION_STATUSES, DELIVERY_STATUSES, MAX_CONSUMPTION_PERCENTAGE, REFUND_PREFERENCES } from './consumption.model.js';

export const TransactionIdParams = Type.Object({
  transactionId: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[0-9A-Za-z_-]+$',
    description: 'The transaction Apple may ask about (the refunded purchase)',
    examples: ['2000000000000007'],
  }),
});

const enumOf = (values: readonly string[], description: string) =>
  Type.Union(
    values.map((value) => Type.Literal(value)),
    { description, examples: [values[0]] },
  );

/** Apple's ConsumptionRequest (v2) fields, as Apple's library 3.x names them. */
export const ConsumptionFactsBody = Type.Object(
  {
    customerConsented: Type.Boolean({ description: 'The customer consented to share consumption data with the App Store; without it nothing is sent' }),
    sampleContentProvided: Type.Boolean({ description: 'A free sample, trial or description of the content was provided before purchase' }),
    deliveryStatus: enumOf(DELIVERY_STATUSES, "Apple's DeliveryStatus: whether the purchase was delivered and works"),
    consumptionPercentage: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_CONSUMPTION_PERCENTAGE,
        description: 'How much of the purchase was consumed, in milliunits of percent (0..100000; 50000 is 50 %)',
        examples: [25_000],
      }),
    ),
    refundPreference: Type.Optional(enumOf(REFUND_PREFERENCES, "Apple's RefundPreference: the outcome the developer prefers")),
  },
  {
    additionalProperties: false,
    examples: [
      { customerConsented: true, sampleContentProvided: false, deliveryStatus: 'DELIVERED', consumptionPercentage: 25000, refundPreference: 'DECLINE' },
    ],
  },
);

const StoredFactsSchema = Type.Object({
  customerConsented: Type.Boolean(),
  sampleContentProvided: Type.Boolean(),
  deliveryStatus: Type.String({ examples: ['DELIVERED'] }),
  consumptionPercentage: Nullable(Type.Integer(), { examples: [25_000] }),
  refundPreference: Nullable(Type.String(), { examples: ['DECLINE'] }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const ConsumptionRequestSchema = Type.Object({
  notificationId: Type.String({ description: "The CONSUMPTION_REQUEST's notificationUUID" }),
  transactionId: Type.String({ examples: ['2000000000000007'] }),
  environment: Nullable(Type.String(), { examples: ['Production'] }),
  requestedAt: Type.String({ format: 'date-time', description: "Apple's signedDate of the request" }),
  deadline: Type.String({ format: 'date-time', description: 'requestedAt + 12 h: no answer goes out after it' }),
  status: Type.String({ description: 'pending | sent | not_sent | failed', examples: ['sent'] }),
  reason: Nullable(Type.String(), {
    description:
      'Why none was sent: customer_did_not_consent, expired (the deadline passed), api_not_configured, no_app_store_environment, apple_refused (failed)',
    examples: [null],
  }),
  attempts: Type.Integer({ description: 'Calls to Send Consumption Information so far', examples: [1] }),
  lastError: Nullable(Type.String(), { description: "The last failed call's error", examples: [null] }),
  sentAt: NullableDateTime('2026-11-01T10:00:05.000Z'),
  facts: Type.Union([StoredFactsSchema, Type.Null()], { description: "The app backend's facts for the transaction; null: none yet" }),
});

export const FactsResponse = Type.Object({
  transactionId: Type.String({ examples: ['2000000000000007'] }),
  facts: StoredFactsSchema,
  requests: Type.Array(ConsumptionRequestSchema, { description: "Apple's requests for this transaction so far, newest first" }),
});

export const ConsumptionListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(CONSUMPTION_STATUSES.map((status) => Type.Literal(status)))),
    transactionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);

export const ConsumptionListResponse = Type.Object({
  requests: Type.Array(ConsumptionRequestSchema, { description: 'Newest request first' }),
});
