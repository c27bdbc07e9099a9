import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, date, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

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
    /** how the link was made: 'app_account_token' | 'transaction' | 'receipt' | 'restore' | 'transfer' */
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
    /**
     * True while an earlier event of the same user to this URL is still pending: the row
     * waits behind it, outside the claim's index, so a backlog behind retrying deliveries
     * costs the claim nothing. Released when the earlier one ends (deliveries.repository.ts).
     */
    heldBack: boolean('held_back').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.eventSeq, t.url] }),
    // No index covers the lease's columns (attempts, next_attempt_at, last_attempt_at,
    // first_attempt_at), so a claim can update its row in place (a HOT update): the claim
    // finds due rows through the ready-order index below and checks next_attempt_at there.
    // A URL's pending deliveries not held back, in event order: the claim walks it and stops
    // at its limit, instead of sorting every pending row of the URL (a catch-up after an
    // outage) or stepping over the rows that wait behind a retrying one.
    index('event_deliveries_ready_order_idx').on(t.url, t.eventSeq).where(sql`${t.status} = 'pending' and not ${t.heldBack}`),
    index('event_deliveries_user_order_idx').on(t.url, t.userId, t.eventSeq).where(sql`${t.status} <> 'delivered'`),
    // The rows held back, for the sweep that releases any whose earlier event ended unseen.
    index('event_deliveries_held_back_idx').on(t.url, t.userId, t.eventSeq).where(sql`${t.status} = 'pending' and ${t.heldBack}`),
    // Full, though nearly every row is delivered: as a partial index (not delivered) it is as
    // small as the user-order index, and the planner took it for the dispatch's held-back
    // check (status = 'pending', then every pending row filtered by user) when statistics
    // showed few pending rows; the admin listing of delivered rows reads it too.
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

/**
 * Set App Account Token requests to Apple (issue 17): a purchase linked by transaction id
 * or restore whose signed data carries no token gets the user's token on Apple's side, so
 * its future notifications attribute themselves. One row per purchase; written in the
 * link's transaction, sent after commit and retried by a job (src/users/token-sync.*).
 */
export const appAccountTokenUpdates = pgTable(
  'app_account_token_updates',
  {
    originalTransactionId: text('original_transaction_id').primaryKey(),
    /** Production or Sandbox: which App Store Server API is asked. */
    environment: text('environment').notNull(),
    userId: text('user_id').notNull(),
    appAccountToken: uuid('app_account_token').notNull(),
    /** 'pending' | 'done' | 'failed' */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** When a pending row is next tried; also the lease of an attempt in flight. */
    nextAttemptAt: timestamptz('next_attempt_at').notNull().defaultNow(),
    lastError: text('last_error'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [index('app_account_token_updates_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`)],
);

/**
 * Renewal-date extensions an operator asked Apple for (POST /admin/subscriptions/…/extend):
 * one row per request Apple answered, with who asked (the admin key's id, never the key).
 * The stored subscription changes only when Apple's RENEWAL_EXTENDED notification arrives.
 */
export const renewalExtensions = pgTable(
  'renewal_extensions',
  {
    /** The requestIdentifier sent to Apple. */
    requestId: uuid('request_id').primaryKey(),
    /** 'single' (one originalTransactionId) | 'mass' (every active subscriber of a product) */
    kind: text('kind').notNull(),
    /** The originalTransactionId ('single') or the productId ('mass'). */
    target: text('target').notNull(),
    /** 'mass' only: storefront country codes it was limited to; null: all. */
    storefronts: jsonb('storefronts').$type<string[]>(),
    days: integer('days').notNull(),
    /** Apple's extendReasonCode: 0 undeclared, 1 customer satisfaction, 2 other, 3 service issue. */
    reason: integer('reason').notNull(),
    environment: text('environment').notNull(),
    /** The id of the admin key that asked (http/auth.ts `apiKeyId`). */
    requestedBy: text('requested_by').notNull(),
    createdAt: timestamptz('created_at').notNull(),
    /** Apple's answer, as Apple sent it. */
    answer: jsonb('answer').notNull(),
  },
  (t) => [index('renewal_extensions_target_idx').on(t.target)],
);

/** The app backend's facts for Apple's refund requests (PUT /transactions/:id/consumption). */
export const consumptionFacts = pgTable('consumption_facts', {
  transactionId: text('transaction_id').primaryKey(),
  customerConsented: boolean('customer_consented').notNull(),
  sampleContentProvided: boolean('sample_content_provided').notNull(),
  /** Apple's DeliveryStatus (v2 string enum). */
  deliveryStatus: text('delivery_status').notNull(),
  /** Milliunits of percent consumed, 0..100000; null: not given. */
  consumptionPercentage: integer('consumption_percentage'),
  /** Apple's RefundPreference (v2 string enum); null: not given. */
  refundPreference: text('refund_preference'),
  /** The id of the app key that sent them. */
  updatedBy: text('updated_by'),
  updatedAt: timestamptz('updated_at').notNull(),
});

/**
 * Apple's CONSUMPTION_REQUESTs (one per notification) and what became of each: the answer
 * goes out through Send Consumption Information once the facts are there, before the
 * 12-hour deadline, and only with the customer's consent (src/consumption/).
 */
export const consumptionRequests = pgTable(
  'consumption_requests',
  {
    /** The CONSUMPTION_REQUEST's notificationUUID (V1: its digest id). */
    notificationId: text('notification_id').primaryKey(),
    transactionId: text('transaction_id').notNull(),
    environment: text('environment'),
    /** Apple's signedDate of the request. */
    requestedAt: timestamptz('requested_at').notNull(),
    /** requestedAt + 12 h: nothing is sent after it. */
    deadline: timestamptz('deadline').notNull(),
    /** 'pending' | 'sent' | 'not_sent' | 'failed' */
    status: text('status').notNull().default('pending'),
    /** Why none was sent: 'customer_did_not_consent' | 'expired' | 'api_not_configured' | 'apple_refused' */
    reason: text('reason'),
    attempts: integer('attempts').notNull().default(0),
    /** When the sender looks at it next: at once when facts arrive, at the deadline while none are there. */
    nextAttemptAt: timestamptz('next_attempt_at').notNull(),
    /** A sender's claim while it attempts (one replica at a time); null or past: free. */
    leasedUntil: timestamptz('leased_until'),
    lastError: text('last_error'),
    sentAt: timestamptz('sent_at'),
    /** The body sent to Apple. */
    sent: jsonb('sent'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('consumption_requests_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('consumption_requests_transaction_id_idx').on(t.transactionId),
    index('consumption_requests_status_idx').on(t.status, t.requestedAt),
  ],
);

/**
 * An operator's grant (POST /admin/users/:userId/grants): an entitlement without a purchase,
 * from `startsAt` until `expiresDate`, or until `endedAt` when it was ended early (DELETE).
 * Who gave and ended it is the admin key's id (never the key), as the logs name it.
 */
export const grants = pgTable(
  'grants',
  {
    /** `grt_` + a UUID. */
    id: text('id').primaryKey(),
    /** The app's user id; not a reference to `users`: a grant needs no app account token. */
    userId: text('user_id').notNull(),
    entitlement: text('entitlement').notNull(),
    startsAt: timestamptz('starts_at').notNull(),
    expiresDate: timestamptz('expires_date').notNull(),
    reason: text('reason').notNull(),
    /** The admin key's id (the first 12 hex digits of its SHA-256, as in the logs). */
    grantedBy: text('granted_by').notNull(),
    endedAt: timestamptz('ended_at'),
    endedBy: text('ended_by'),
    endReason: text('end_reason'),
    updatedAt: timestamptz('updated_at').notNull(),
  },
  (t) => [index('grants_user_id_idx').on(t.userId)],
);

/**
 * The user's verified StoreKit 2 AppTransaction (POST /users/:userId/app-transaction): who
 * bought the app itself, and which version first (catalog `appPurchase`). One per user; a
 * newer `signedDate` replaces an older one.
 */
export const appTransactions = pgTable('app_transactions', {
  userId: text('user_id').primaryKey(),
  appTransactionId: text('app_transaction_id'),
  bundleId: text('bundle_id').notNull(),
  environment: text('environment').notNull(),
  originalApplicationVersion: text('original_application_version'),
  originalPurchaseDate: timestamptz('original_purchase_date'),
  signedDate: timestamptz('signed_date').notNull(),
  /** The AppTransaction JWS as the app posted it. */
  signedAppTransaction: text('signed_app_transaction').notNull(),
  updatedAt: timestamptz('updated_at').notNull(),
});

/**
 * Analytics (docs/analytics.md): one row per purchase (originalTransactionId) that grants
 * something, kept by the write side (`purchases/analytics.repository.ts`) in the
 * transaction that changes the purchase. The current period's product and dates and the
 * signals "active now" is judged on at request time: active while not revoked and
 * `active_until` (the period's end, or the grace period's when Apple retries billing with
 * one) is null (no end) or after now.
 */
export const purchaseAnalytics = pgTable(
  'purchase_analytics',
  {
    originalTransactionId: text('original_transaction_id').primaryKey(),
    environment: text('environment').notNull(),
    productId: text('product_id').notNull(),
    productType: text('product_type').notNull(),
    /** The current period's (the latest transaction not upgraded). */
    purchaseDate: timestamptz('purchase_date').notNull(),
    expiresDate: timestamptz('expires_date'),
    offerType: integer('offer_type'),
    offerDiscountType: text('offer_discount_type'),
    /** The current period is refunded or revoked (its revocationDate, or Apple's status 5 about it). */
    revoked: boolean('revoked').notNull(),
    /** Set while Apple retries billing of the current period with a grace period. */
    gracePeriodExpiresDate: timestamptz('grace_period_expires_date'),
    /** The later of expiresDate and gracePeriodExpiresDate; null: no end (or revoked). */
    activeUntil: timestamptz('active_until'),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('purchase_analytics_active_until_idx').on(t.activeUntil).where(sql`not ${t.revoked}`),
    index('purchase_analytics_expires_date_idx').on(t.expiresDate).where(sql`not ${t.revoked}`),
  ],
);

/**
 * Analytics: per UTC day × environment × product × currency ('' when none), the sum of
 * every purchase's contributions (purchases/analytics.model.ts), kept incrementally by the
 * write side: a purchase's change subtracts what it contributed before and adds what it
 * contributes now, so the table is the same whatever order and however often its data
 * arrives.
 */
export const analyticsDaily = pgTable(
  'analytics_daily',
  {
    day: date('day', { mode: 'string' }).notNull(),
    environment: text('environment').notNull(),
    productId: text('product_id').notNull(),
    currency: text('currency').notNull(),
    newSubscriptions: integer('new_subscriptions').notNull().default(0),
    renewals: integer('renewals').notNull().default(0),
    expirations: integer('expirations').notNull().default(0),
    refunds: integer('refunds').notNull().default(0),
    trialConversions: integer('trial_conversions').notNull().default(0),
    /** Gross, in milliunits of `currency`. */
    revenue: bigint('revenue', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.day, t.environment, t.productId, t.currency] })],
);

/**
 * Every recovery run (the periodic job's, the admin route's, the CLI's), newest kept: the
 * console's "last runs" (GET /admin/notifications/recover/runs). Pruned to the last few
 * hundred as each run is recorded; a run skipped because another replica ran it is not one.
 */
export const recoveryRuns = pgTable(
  'recovery_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** 'schedule' | 'admin' | 'cli' (as the ase_recovery_runs_total metric names them). */
    trigger: text('trigger').notNull(),
    /** 'success' | 'failure' */
    outcome: text('outcome').notNull(),
    startedAt: timestamptz('started_at').notNull(),
    finishedAt: timestamptz('finished_at').notNull(),
    /** The window asked of Apple; null when the run failed before it had one (the job's bookmark unreadable). */
    windowStart: timestamptz('window_start'),
    windowEnd: timestamptz('window_end'),
    onlyFailures: boolean('only_failures').notNull(),
    fetched: integer('fetched').notNull(),
    applied: integer('applied').notNull(),
    duplicate: integer('duplicate').notNull(),
    rejected: integer('rejected').notNull(),
    /** A failed run's code and message (as the admin route answers them); null on success. */
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
  },
  (t) => [index('recovery_runs_started_at_idx').on(t.startedAt)],
);
