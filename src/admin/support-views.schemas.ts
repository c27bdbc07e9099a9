import { Type } from 'typebox';
import { Entitlement, UserIdParams } from '../entitlements/entitlements.schemas.js';
import { EVENT_TYPES } from '../events/event-types.js';
import { Nullable, NullableDateTime } from '../http/schemas.js';
import { CUSTOMER_VIEW_LIMITS } from './customer.usecase.js';
import { DEFAULT_NOTIFICATION_LOG_LIMIT } from './notification-log.usecase.js';

export { UserIdParams };

const OUTCOMES = ['applied', 'recorded'] as const;

export const NotificationLogQuery = Type.Object(
  {
    type: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9_]+$',
        description: "Apple's notificationType (V1 types too), any case",
        examples: ['DID_RENEW'],
      }),
    ),
    outcome: Type.Optional(
      Type.Union(
        OUTCOMES.map((outcome) => Type.Literal(outcome)),
        {
          description:
            'applied: the notification changed stored purchase state (or could have: its type applies); recorded: kept in the log only ' +
            '(TEST, CONSUMPTION_REQUEST, …). Duplicates and rejected notifications are never stored.',
        },
      ),
    ),
    from: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Received at or after, ISO 8601 (400 INVALID_DATE otherwise)',
        examples: ['2026-11-01T00:00:00Z'],
      }),
    ),
    to: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Received before, ISO 8601, after from (400 INVALID_WINDOW otherwise)',
        examples: ['2026-12-01T00:00:00Z'],
      }),
    ),
    originalTransactionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7E]+$', description: 'Only this purchase' })),
    userId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        pattern: '^[^\\u0000-\\u001F\\u007F]+$',
        description: "Only purchases now linked to this user (GET /admin/users/:userId's list, paged further)",
      }),
    ),
    cursor: Type.Optional(Type.String({ minLength: 1, description: 'nextCursor of the previous page (400 INVALID_CURSOR otherwise)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: DEFAULT_NOTIFICATION_LOG_LIMIT, description: 'Notifications per page' })),
    raw: Type.Optional(Type.Boolean({ description: 'Also the stored payload as received (V2: the signedPayload JWS), as `raw`', default: false })),
  },
  { additionalProperties: false },
);

const DecodedObject = (description: string) => Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], { description });

export const NotificationItem = Type.Object({
  notificationId: Type.String({ description: 'V2: notificationUUID; V1: a digest of the body', examples: ['9f1d2c3b-0000-4000-8000-000000000001'] }),
  version: Type.String({ description: 'v2 or v1', examples: ['v2'] }),
  notificationType: Type.String({ examples: ['DID_RENEW'] }),
  subtype: Nullable(Type.String(), { examples: [null] }),
  environment: Nullable(Type.String(), { examples: ['Production'] }),
  originalTransactionId: Nullable(Type.String(), { examples: ['2000000000000001'] }),
  transactionId: Nullable(Type.String(), { examples: ['2000000000000007'] }),
  signedDate: NullableDateTime('2026-11-01T10:00:00.000Z'),
  receivedAt: Type.String({ format: 'date-time' }),
  source: Type.String({ description: 'webhook, recovery or api', examples: ['webhook'] }),
  outcome: Type.String({ description: 'applied or recorded', examples: ['applied'] }),
  userId: Nullable(Type.String(), { description: "The purchase's owner now; null when no user is linked", examples: ['u-42'] }),
  payload: DecodedObject(
    "The notification decoded: V2's payload with data.signedTransactionInfo / signedRenewalInfo decoded as transactionInfo / renewalInfo; " +
      'V1: the body without its password and receipt blobs',
  ),
  raw: Type.Optional(Type.String({ description: 'Only with raw=true: the stored payload as received' })),
});

export const NotificationLogResponse = Type.Object({
  notifications: Type.Array(NotificationItem, { description: 'Newest received first' }),
  nextCursor: Nullable(Type.String(), { description: 'Pass as cursor for the next page; null on the last page', examples: [null] }),
});

const LinkChange = Type.Object({
  originalTransactionId: Type.String(),
  fromUserId: Nullable(Type.String(), { description: 'null: the first link' }),
  toUserId: Type.String(),
  reason: Type.String({ description: 'How the link was made: app_account_token, transaction, receipt, transfer, …', examples: ['transaction'] }),
  at: Type.String({ format: 'date-time' }),
});

const Int = (description?: string) => Nullable(Type.Integer(), description ? { description } : {});
const Str = (description?: string) => Nullable(Type.String(), description ? { description } : {});

const PurchaseTransaction = Type.Object({
  transactionId: Type.String(),
  originalTransactionId: Type.String(),
  webOrderLineItemId: Str(),
  productId: Type.String(),
  productType: Type.String(),
  environment: Type.String(),
  purchaseDate: Type.String({ format: 'date-time' }),
  originalPurchaseDate: NullableDateTime(null),
  expiresDate: NullableDateTime(null),
  revocationDate: NullableDateTime(null),
  revocationReason: Int(),
  revocationType: Str(),
  revocationPercentage: Int('Thousandths of a percent'),
  ownershipType: Str(),
  isUpgraded: Type.Boolean(),
  offerType: Int(),
  offerIdentifier: Str(),
  offerDiscountType: Str(),
  appAccountToken: Str(),
  storefront: Str(),
  transactionReason: Str(),
  price: Int('Milliunits'),
  currency: Str(),
  signedDate: Type.String({ format: 'date-time' }),
  source: Type.String({ description: 'v2 (signed by Apple), api (fetched from the Server API), v1 (unsigned legacy)' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const Renewal = Type.Object({
  appleStatus: Int("Apple's status: 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked"),
  statusSignedDate: NullableDateTime(null),
  autoRenewProductId: Str(),
  autoRenewStatus: Int('1 on, 0 off'),
  expirationIntent: Int(),
  isInBillingRetryPeriod: Nullable(Type.Boolean()),
  gracePeriodExpiresDate: NullableDateTime(null),
  renewalDate: NullableDateTime(null),
  priceIncreaseStatus: Int(),
  renewalPrice: Int('Milliunits'),
  renewalCurrency: Str(),
  renewalOfferType: Int(),
  renewalOfferIdentifier: Str(),
  renewalSignedDate: NullableDateTime(null),
  renewalSource: Str(),
  updatedAt: Type.String({ format: 'date-time' }),
});

const Purchase = Type.Object({
  originalTransactionId: Type.String({ examples: ['2000000000000001'] }),
  productId: Str(),
  productType: Str(),
  environment: Str(),
  renewal: Type.Union([Renewal, Type.Null()], { description: 'Renewal info and last known Apple status (subscriptions); null when none is stored' }),
  transactions: Type.Array(PurchaseTransaction, { description: 'Newest purchase first' }),
});

const Event = Type.Object({
  id: Type.String({ examples: ['evt_2b0d7a4e-4c1f-4a53-9f55-0a4e33c1d7b2'] }),
  type: Type.String({ enum: [...EVENT_TYPES] }),
  timestamp: Type.String({ format: 'date-time' }),
  data: Type.Object({}, { additionalProperties: true, description: 'As in GET /events' }),
});

const Grant = Type.Object({
  grantId: Type.String({ examples: ['grt_3f6c2a9e-8d1b-4c7a-b5e2-9a0f4d6c1e27'] }),
  entitlement: Type.String({ examples: ['pro'] }),
  startsAt: Type.String({ format: 'date-time' }),
  expiresDate: Type.String({ format: 'date-time' }),
  reason: Type.String(),
  grantedBy: Type.String({ description: "The admin key's id (never the key)" }),
  endedAt: NullableDateTime('2026-11-20T09:00:00.000Z'),
  endedBy: Str("The admin key's id that ended it early; null when it runs (or ran) to its end"),
  endReason: Str(),
});

const AppTransaction = Type.Object({
  appTransactionId: Str(),
  environment: Type.String(),
  originalApplicationVersion: Str(),
  originalPurchaseDate: NullableDateTime('2024-03-01T10:00:00.000Z'),
  signedDate: Type.String({ format: 'date-time' }),
});

const { purchases, transactions, linkHistory, notifications, events } = CUSTOMER_VIEW_LIMITS;

export const CustomerResponse = Type.Object(
  {
    userId: Type.String({ examples: ['u-42'] }),
    appAccountToken: Str('The token recorded for the user (null until the service handed one out or saw the user)'),
    firstSeenAt: NullableDateTime('2026-05-01T10:00:00.000Z'),
    entitlements: Type.Array(Entitlement, { description: 'As GET /entitlements/:userId answers from stored data (no refresh)' }),
    purchases: Type.Array(Purchase, {
      description: `The purchases linked to the user, latest link first, at most ${purchases}; at most ${transactions} transactions in all`,
    }),
    links: Type.Array(
      Type.Object({
        originalTransactionId: Type.String(),
        linkSource: Type.String({ description: 'app_account_token, transaction, receipt, transfer, …' }),
        linkedAt: Type.String({ format: 'date-time' }),
        history: Type.Array(LinkChange, { description: "Every change of the purchase's owner, newest first" }),
      }),
      { description: 'The user’s current links, each with its history' },
    ),
    formerLinks: Type.Array(LinkChange, { description: 'Purchases that moved from this user to another, newest first' }),
    grants: Type.Array(Grant, { description: "The operators' grants, newest first, ended ones included" }),
    appTransaction: Type.Union([AppTransaction, Type.Null()], { description: 'The verified AppTransaction the app posted (catalog appPurchase), or null' }),
    notifications: Type.Array(NotificationItem, {
      description: `Notifications about the user's purchases, newest first, at most ${notifications} (GET /admin/notifications?userId= pages further)`,
    }),
    events: Type.Array(Event, { description: `Events about the user, newest first, at most ${events}` }),
    truncated: Type.Object(
      {
        purchases: Type.Boolean({ description: `More than ${purchases} linked purchases` }),
        transactions: Type.Boolean(),
        linkHistory: Type.Boolean({ description: `More than ${linkHistory} link changes` }),
        notifications: Type.Boolean(),
        events: Type.Boolean(),
      },
      { description: 'Which lists were cut at their limit' },
    ),
  },
  { description: 'An unknown user gets 200 with empty lists, as GET /entitlements answers' },
);
