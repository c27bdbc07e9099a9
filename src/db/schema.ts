import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Every notification received (V2 by notificationUUID, V1 by a digest of its body),
 * with its raw payload kept for audit and `npm run replay`.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: text('id').primaryKey(),
    version: text('version').notNull(), // 'v2' | 'v1'
    notificationType: text('notification_type').notNull(),
    subtype: text('subtype'),
    environment: text('environment'),
    originalTransactionId: text('original_transaction_id'),
    transactionId: text('transaction_id'),
    signedDate: timestamptz('signed_date'),
    /** V2: the signedPayload JWS; V1: the JSON body without its password. */
    payload: text('payload').notNull(),
    source: text('source').notNull(), // 'webhook' | 'recovery' | 'api'
    outcome: text('outcome').notNull(), // 'applied' | 'recorded'
    receivedAt: timestamptz('received_at').notNull().defaultNow(),
  },
  (t) => [index('notifications_original_transaction_id_idx').on(t.originalTransactionId), index('notifications_received_at_idx').on(t.receivedAt)],
);

/** One row per App Store transaction; a newer `signed_date` replaces an older one. */
export const transactions = pgTable(
  'transactions',
  {
    transactionId: text('transaction_id').primaryKey(),
    originalTransactionId: text('original_transaction_id').notNull(),
    webOrderLineItemId: text('web_order_line_item_id'),
    bundleId: text('bundle_id').notNull(),
    productId: text('product_id').notNull(),
    subscriptionGroupIdentifier: text('subscription_group_identifier'),
    productType: text('product_type').notNull(),
    environment: text('environment').notNull(),
    purchaseDate: timestamptz('purchase_date').notNull(),
    originalPurchaseDate: timestamptz('original_purchase_date'),
    expiresDate: timestamptz('expires_date'),
    quantity: integer('quantity'),
    ownershipType: text('ownership_type'),
    revocationDate: timestamptz('revocation_date'),
    revocationReason: integer('revocation_reason'),
    isUpgraded: boolean('is_upgraded').notNull().default(false),
    offerType: integer('offer_type'),
    offerIdentifier: text('offer_identifier'),
    appAccountToken: uuid('app_account_token'),
    storefront: text('storefront'),
    transactionReason: text('transaction_reason'),
    price: bigint('price', { mode: 'number' }),
    currency: text('currency'),
    /** FREE_TRIAL | PAY_AS_YOU_GO | PAY_UP_FRONT (Apple's offerDiscountType). */
    offerDiscountType: text('offer_discount_type'),
    /** ISO 8601 duration of the offer (Apple's offerPeriod). */
    offerPeriod: text('offer_period'),
    /** REFUND_FULL | REFUND_PRORATED | FAMILY_REVOKE */
    revocationType: text('revocation_type'),
    /** Refunded share in thousandths of a percent (50000 = 50 %). */
    revocationPercentage: integer('revocation_percentage'),
    appTransactionId: text('app_transaction_id'),
    signedDate: timestamptz('signed_date').notNull(),
    /** 'v2' (signed by Apple), 'api' (signed, fetched from the Server API), 'v1' (unsigned legacy). */
    source: text('source').notNull(),
    /** The signed transaction JWS, when it is not inside a stored notification. */
    signedTransaction: text('signed_transaction'),
    /**
     * The notification whose signedPayload carries this transaction's JWS (kept once,
     * there, rather than again here).
     */
    signedInNotification: text('signed_in_notification'),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('transactions_original_purchase_idx').on(t.originalTransactionId, t.purchaseDate.desc()),
    index('transactions_app_account_token_idx').on(t.appAccountToken),
    // The analytics reads (src/analytics/analytics.repository.ts, docs/analytics.md):
    // purchases and revenue by purchase date, expirations and the summary's candidates by
    // expiry, refunds by revocation date, trial conversions from the trials alone.
    index('transactions_purchase_date_idx').on(t.purchaseDate),
    index('transactions_expires_date_idx').on(t.expiresDate),
    index('transactions_revocation_date_idx').on(t.revocationDate).where(sql`${t.revocationDate} is not null`),
    index('transactions_trial_expires_idx').on(t.expiresDate).where(sql`${t.offerType} = 1 and ${t.offerDiscountType} = 'FREE_TRIAL'`),
  ],
);

/**
 * A purchase's renewal info and last known Apple status, one row per
 * originalTransactionId. Renewal and status advance independently, each only
 * from signed data newer than what they came from.
 */
export const subscriptions = pgTable('subscriptions', {
  originalTransactionId: text('original_transaction_id').primaryKey(),
  environment: text('environment'),
  productId: text('product_id'),
  autoRenewProductId: text('auto_renew_product_id'),
  autoRenewStatus: integer('auto_renew_status'),
  expirationIntent: integer('expiration_intent'),
  isInBillingRetryPeriod: boolean('is_in_billing_retry_period'),
  gracePeriodExpiresDate: timestamptz('grace_period_expires_date'),
  renewalDate: timestamptz('renewal_date'),
  priceIncreaseStatus: integer('price_increase_status'),
  /** What the next renewal charges, in milliunits of `renewalCurrency`. */
  renewalPrice: bigint('renewal_price', { mode: 'number' }),
  renewalCurrency: text('renewal_currency'),
  /** The offer the next renewal applies (renewal info's offerType, offerIdentifier, …). */
  renewalOfferType: integer('renewal_offer_type'),
  renewalOfferIdentifier: text('renewal_offer_identifier'),
  renewalOfferDiscountType: text('renewal_offer_discount_type'),
  renewalOfferPeriod: text('renewal_offer_period'),
  eligibleWinBackOfferIds: text('eligible_win_back_offer_ids').array(),
  appTransactionId: text('app_transaction_id'),
  renewalSignedDate: timestamptz('renewal_signed_date'),
  renewalSource: text('renewal_source'),
  /** The signed renewal info JWS, when it is not inside a stored notification. */
  signedRenewalInfo: text('signed_renewal_info'),
  /** The notification whose signedPayload carries the renewal info's JWS. */
  renewalSignedInNotification: text('renewal_signed_in_notification'),
  /** Apple's status: 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked. */
  appleStatus: integer('apple_status'),
  /** signedDate of the notification (or API response) the status came from. */
  statusSignedDate: timestamptz('status_signed_date'),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

/** The app's users and the appAccountToken each passes to StoreKit. */
export const users = pgTable(
  'users',
  {
    userId: text('user_id').primaryKey(),
    appAccountToken: uuid('app_account_token').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('users_app_account_token_idx').on(t.appAccountToken)],
);

/** Which user owns a purchase (all transactions of one originalTransactionId). */
export const purchaseLinks = pgTable(
  'purchase_links',
  {
    originalTransactionId: text('original_transaction_id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.userId),
    /** how the link was made: 'app_account_token' | 'transaction' | 'receipt' | 'transfer' */
    linkSource: text('link_source').notNull(),
    linkedAt: timestamptz('linked_at').notNull().defaultNow(),
  },
  (t) => [index('purchase_links_user_id_idx').on(t.userId)],
);

/** Every change of a purchase's owner, for support and audit. */
export const purchaseLinkEvents = pgTable(
  'purchase_link_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    originalTransactionId: text('original_transaction_id').notNull(),
    fromUserId: text('from_user_id'),
    toUserId: text('to_user_id').notNull(),
    reason: text('reason').notNull(),
    at: timestamptz('at').notNull().defaultNow(),
  },
  (t) => [index('purchase_link_events_original_transaction_id_idx').on(t.originalTransactionId)],
);

/** Small per-installation facts: the app-account-token namespace, job bookmarks. */
export const serviceState = pgTable('service_state', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamptz('updated_at').notNull().default(sql`now()`),
});

/**
 * The event outbox and feed (`GET /events`, webhooks to EVENTS_WEBHOOK_URLS): one row per
 * event, written in the same transaction as the change it announces. `seq` orders the
 * feed; it is taken under a transaction-scoped advisory lock held until commit, so events
 * become visible in `seq` order and a reader of `seq > after` never skips one that commits
 * late (src/events/events.repository.ts). See src/events/README-schema.md.
 */
export const events = pgTable(
  'events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** The event id (`webhook-id` of every delivery, `id` in the feed): `evt_` + a UUID. */
    id: text('id').notNull(),
    /** 'entitlements.updated' | 'notification.received' | 'consumption.requested' */
    type: text('type').notNull(),
    /** The user the event concerns (per-user delivery order, admin look-ups); null when none. */
    userId: text('user_id'),
    /** The exact webhook body: `{"type","timestamp","data"}` (Standard Webhooks envelope). */
    body: text('body').notNull(),
    /** When it was recorded (the envelope's timestamp); EVENTS_RETENTION counts from here. */
    recordedAt: timestamptz('recorded_at').notNull(),
  },
  (t) => [uniqueIndex('events_id_idx').on(t.id), index('events_user_id_seq_idx').on(t.userId, t.seq), index('events_recorded_at_idx').on(t.recordedAt)],
);

/**
 * Delivery of one event to one URL of EVENTS_WEBHOOK_URLS (owned by the delivery worker).
 * Rows are created by the worker from the events table, not by the recording transaction,
 * so recording costs ingest nothing per URL.
 */
export const eventDeliveries = pgTable(
  'event_deliveries',
  {
    eventSeq: bigint('event_seq', { mode: 'number' })
      .notNull()
      .references(() => events.seq, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    /** Copied from the event: events of one user reach each URL in `event_seq` order. */
    userId: text('user_id'),
    /** 'pending' | 'delivered' | 'failed' */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamptz('next_attempt_at').notNull().defaultNow(),
    lastAttemptAt: timestamptz('last_attempt_at'),
    /** When the first attempt (since the row was created or redelivered) was made: retries go on for 3 days from it. */
    firstAttemptAt: timestamptz('first_attempt_at'),
    /** HTTP status of the last attempt; null when it got no answer. */
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    deliveredAt: timestamptz('delivered_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.eventSeq, t.url] }),
    index('event_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('event_deliveries_user_order_idx').on(t.url, t.userId, t.eventSeq).where(sql`${t.status} <> 'delivered'`),
    index('event_deliveries_status_idx').on(t.status, t.eventSeq),
  ],
);

/**
 * Each user's last recorded answer to `GET /entitlements/:userId`: what the next
 * `entitlements.updated` compares against and sends as `previous`, and when time alone may
 * change it (a period, grace period or grant ending) for the scheduler.
 */
export const userAnswers = pgTable(
  'user_answers',
  {
    userId: text('user_id').primaryKey(),
    /** The answer's `entitlements` array as JSON text, exactly as last recorded. */
    entitlements: text('entitlements').notNull(),
    /** A digest of the answer without its `updatedAt` fields: equal digests, same answer. */
    fingerprint: text('fingerprint').notNull(),
    /** The earliest instant the answer may change with no word from Apple; null: never. */
    nextCheckAt: timestamptz('next_check_at'),
    updatedAt: timestamptz('updated_at').notNull(),
  },
  (t) => [index('user_answers_next_check_at_idx').on(t.nextCheckAt).where(sql`${t.nextCheckAt} is not null`)],
);
