import { type CustomerUsecase, createCustomerUsecase } from './admin/customer.usecase.js';
import { createExtensionsUsecase, type ExtensionsUsecase } from './admin/extensions.usecase.js';
import { grantsOfUser } from './admin/grants.repository.js';
import { createGrantsUsecase, type GrantsUsecase } from './admin/grants.usecase.js';
import { createLookupRepository } from './admin/lookup.repository.js';
import { createLookupUsecase, type LookupUsecase } from './admin/lookup.usecase.js';
import { createNotificationLogUsecase, type NotificationLogUsecase } from './admin/notification-log.usecase.js';
import { createOrdersUsecase, type OrdersUsecase } from './admin/orders.usecase.js';
import { createRecoveryScheduler, createRecoveryUsecase, type RecoveryScheduler, type RecoveryUsecase } from './admin/recovery.job.js';
import { createRecoveryRunsRepository, type RecoveryRunsRepository } from './admin/recovery-runs.repository.js';
import { createSupportViewsRepository } from './admin/support-views.repository.js';
import { createTestNotificationsUsecase, type TestNotificationsUsecase } from './admin/test-notification.usecase.js';
import { createAnalyticsRepository } from './analytics/analytics.repository.js';
import { type AnalyticsUsecase, createAnalyticsUsecase } from './analytics/analytics.usecase.js';
import type { App } from './app-registry.js';
import { loadAppleIncRootCertificate } from './apple/receipt/index.js';
import { createVerifyReceiptClient, type VerifyReceiptClient } from './apple/verify-receipt/index.js';
import { type ConsumptionSender, createConsumptionSender } from './consumption/consumption.sender.js';
import { type ConsumptionUsecase, createConsumptionUsecase } from './consumption/consumption.usecase.js';
import type { DatabaseHandle } from './db/client.js';
import type { Slots } from './db/group-while-busy.js';
import { createReadRouting, type ReadRouting } from './db/read-routing.js';
import type { AppDatabase, AppDeps } from './dependencies.js';
import { createEntitlementsRepository } from './entitlements/entitlements.repository.js';
import { createEntitlementsUsecase, type EntitlementsUsecase, type KeptAnswer } from './entitlements/entitlements.usecase.js';
import { warnOncePerProduct } from './entitlements/product-warnings.js';
import { createRecordsCache, type RecordsCache } from './entitlements/records-cache.js';
import { type RecordsCacheListener, startRecordsCacheListener } from './entitlements/records-cache-listener.js';
import { createDeliveriesUsecase, type DeliveriesUsecase } from './events/deliveries.usecase.js';
import { createDeliveryWorker, type DeliveryWorker } from './events/delivery.worker.js';
import { createEventJobs, type EventJobs } from './events/events.jobs.js';
import { createFeedUsecase, type FeedUsecase } from './events/feed.usecase.js';
import { createFeedSignal, type FeedSignal } from './events/feed-signal.js';
import { createEventRecorder, type EventRecorder } from './events/recorder.js';
import { createReceiptsUsecase, type ReceiptsUsecase } from './legacy/receipts.usecase.js';
import { createV1IngestUsecase, type V1IngestUsecase } from './legacy/v1-ingest.usecase.js';
import { createIngestUsecase, type IngestUsecase } from './notifications/ingest.usecase.js';
import { createIngestBatcher } from './notifications/ingest-batcher.js';
import { createOffersUsecase, type OffersUsecase } from './offers/offers.usecase.js';
import { type AppStoreSync, createAppStoreSync } from './purchases/app-store-sync.usecase.js';
import { traceDatabase } from './tracing/traced-database.js';
import { noopTracing } from './tracing/tracing.js';
import { type AppTransactionUsecase, createAppTransactionUsecase } from './users/app-transaction.usecase.js';
import { appTransactionOf } from './users/app-transactions.repository.js';
import { createTokenUpdates, type TokenUpdates } from './users/token-updates.job.js';
import { createTransactionsRepository } from './users/transactions.repository.js';
import { createUsersRepository } from './users/users.repository.js';
import { createUsersUsecase, type UsersUsecase } from './users/users.usecase.js';

/** Every use case of one app, over that app's database, verifier, API client, catalog and secrets. */
export interface AppServices {
  /** The app these use cases serve. */
  app: App;
  /** This app's primary database as operations look at it: its answer (/readyz) and its pool (the gauges). */
  database: Pick<DatabaseHandle, 'ping' | 'poolStats'>;
  /** V2 notifications, from the webhook and from recovery: one write path, through the batcher. */
  ingest: IngestUsecase;
  v1Ingest: V1IngestUsecase;
  /** The one "sync from the App Store": refresh, V1 ingest, receipts and linking by transaction id use it. */
  sync: AppStoreSync;
  receipts: ReceiptsUsecase;
  /** Entitlements for the write side and the routes that answer after writing: always from the primary. */
  entitlements: EntitlementsUsecase;
  /** GET /entitlements/:userId: from the read replica while it is current (docs/operating.md). */
  entitlementReads: EntitlementsUsecase;
  /** Sends reads to DATABASE_READ_URL while it is within READ_MAX_LAG; null without it. Started by the app, stopped by close(). */
  readRouting: ReadRouting | null;
  users: UsersUsecase;
  /** POST /users/:userId/app-transaction. */
  appTransactions: AppTransactionUsecase;
  /** null without App Store Server API credentials. */
  recovery: RecoveryUsecase | null;
  /** Every recovery run, recorded by `recovery` (GET /admin/notifications/recover/runs lists them). */
  recoveryRuns: RecoveryRunsRepository;
  /** The periodic recovery job: null without credentials or with RECOVERY_INTERVAL=0. Not started here. */
  recoveryJob: RecoveryScheduler | null;
  testNotifications: TestNotificationsUsecase;
  /** GET /admin/orders/:orderId (Look Up Order ID). */
  orders: OrdersUsecase;
  /** Set App Account Token after links (and its retry job, started by the app, stopped by close()). */
  tokenUpdates: TokenUpdates;
  /** Operators' grants (admin routes). */
  grants: GrantsUsecase;
  /** Apple's verifyReceipt, for V1 without Server API credentials; null without APPLE_SHARED_SECRET. */
  verifyReceipt: VerifyReceiptClient | null;
  /** Delivers events to EVENTS_WEBHOOK_URLS; null without them. Not started here (server.ts starts it). */
  eventDelivery: DeliveryWorker | null;
  /** The operator's view of deliveries: list by status, redeliver. */
  deliveries: DeliveriesUsecase;
  /** GET /admin/analytics/*: the summary (kept a minute) and the timeseries. */
  analytics: AnalyticsUsecase;
  /** Turns each transaction's changes into events (the scheduler records with it too). */
  eventRecorder: EventRecorder;
  /** The feed listener, the answer check and pruning: started by the app, stopped by close(). */
  eventJobs: EventJobs;
  /** GET /events. */
  feed: FeedUsecase;
  /** Promotional offer signatures and Apple's JWS offer tokens. */
  offers: OffersUsecase;
  /** GET /admin/notifications: the notification log, decoded. */
  notificationLog: NotificationLogUsecase;
  /** GET /admin/users/:userId: one customer's whole record. */
  customers: CustomerUsecase;
  /** GET /admin/lookup: whose is a transaction, purchase or app account token (the console's search). */
  lookup: LookupUsecase;
  /** Wakes feed readers waiting for events. */
  feedSignal: FeedSignal;
  /** Renewal-date extensions (one subscription, or a product's subscribers) and their progress. */
  extensions: ExtensionsUsecase;
  /** PUT /transactions/:id/consumption and GET /admin/consumption. */
  consumption: ConsumptionUsecase;
  /** Answers Apple's CONSUMPTION_REQUESTs; started by the app, stopped by close(). */
  consumptionSender: ConsumptionSender;
  /**
   * The entitlement read's in-process cache and its invalidation listener (PostgreSQL):
   * started by the app (until then, on PostgreSQL, it serves nothing), stopped by close().
   */
  entitlementsCache: { cache: RecordsCache<KeptAnswer>; start(): Promise<void> };
  /** Starts this app's background jobs (recovery, events, cache listener, token updates, consumption, replica check); not the delivery worker. */
  start(): Promise<void>;
  /** Stops the recovery job, the event jobs and the delivery worker, and waits for work that outlived its request (background refreshes, attempts in flight). */
  close(): Promise<void>;
}

/** What the apps of one installation take turns on. */
export interface SharedSlots {
  writes: Slots;
  reads: Slots;
}

/** The metrics sink of one app: with an `app` label where the sink offers one (forApp), else the sink itself. */
function eventsOfApp(events: AppDeps['events'], appId: string): AppDeps['events'] {
  const labelled = events as AppDeps['events'] & { forApp?: (appId: string) => AppDeps['events'] };
  return labelled.forApp ? labelled.forApp(appId) : events;
}

/** One app's use cases over its own database handles. */
export function createAppServices(appDeps: AppDeps, app: App, handles: AppDatabase, envelopeApp: string | null, slots: SharedSlots): AppServices {
  const tracing = appDeps.tracing ?? noopTracing;
  // Transactions and hot-path queries in spans when tracing is on (the same handle when off).
  const deps = {
    ...appDeps,
    database: traceDatabase(handles.database, tracing),
    readReplica: handles.readReplica,
    events: eventsOfApp(appDeps.events, app.id),
  };
  const { clock, logger: rootLogger, events } = deps;
  // The settings as this app sees them: its bundle id, environments, credentials and secrets
  // where the single-app code reads the APPLE_* ones (the same values for an installation's first app).
  const own = app.config;
  const config = {
    ...deps.config,
    apple: {
      ...deps.config.apple,
      bundleId: own.bundleId,
      appAppleId: own.appAppleId,
      environments: own.environments,
      credentials: own.credentials,
      sharedSecret: own.sharedSecret,
      offerKey: own.offerKey,
    },
  };
  // Several apps: each app's lines say which.
  const logger = envelopeApp === null ? rootLogger : rootLogger.child({ app: app.id });
  const verifier = app.verifier;
  const feedSignal = createFeedSignal();
  // Set once the delivery worker is built below: a commit that recorded events wakes it.
  let wakeDelivery: () => void = () => {};
  // Set once the consumption sender is built below: a commit that recorded Apple's request wakes it.
  let wakeConsumption: () => void = () => {};
  // Embedded PGlite: every writer is this process, whose commits invalidate below. On
  // PostgreSQL it serves once the listener hears other replicas' commits (start()).
  const recordsCache = createRecordsCache<KeptAnswer>({ maxEntries: config.entitlementsCacheSize, serving: deps.database.kind === 'pglite' });
  let recordsCacheListener: RecordsCacheListener | null = null;
  const eventRecorder = createEventRecorder({
    entitlementMap: app.catalog,
    clock,
    kind: deps.database.kind,
    app: envelopeApp,
    onInputsCommitted: (userIds) => recordsCache.invalidate(userIds),
    onCommitted(recorded) {
      feedSignal.notify(recorded[recorded.length - 1]!.seq);
      wakeDelivery();
      if (recorded.some((event) => event.type === 'consumption.requested')) wakeConsumption();
      const byType = new Map<string, number>();
      for (const event of recorded) byType.set(event.type, (byType.get(event.type) ?? 0) + 1);
      for (const [type, count] of byType) events.eventsRecorded({ type, count });
    },
  });
  // Every use case writes through this database: each of its transactions records the
  // events of what it changed, before it commits (src/events/recorder.ts).
  const database = { ...deps.database, db: eventRecorder.recording(deps.database.db) };
  const db = database.db;
  const api = app.appStoreApi;
  const environments = app.config.environments;

  const sync = createAppStoreSync({ db, appStoreApi: api, verifier, clock });
  const ingest = createIngestUsecase({ verifier, clock, logger, events, tracing, batcher: createIngestBatcher({ db, clock, tracing, slots: slots.writes }) });

  // Read routes read through `reads`: the replica while it is current, else the primary.
  // Everything that writes, and every answer of a write route, stays on the primary.
  const readRouting = deps.readReplica
    ? createReadRouting({ primary: deps.database, replica: deps.readReplica, maxLagMs: config.readMaxLagMs, clock, logger })
    : null;
  const reads = readRouting?.database ?? deps.database;

  const primaryEntitlements = createEntitlementsRepository({ database, slots: slots.reads });
  const refresh = sync.connected ? (purchases: Parameters<typeof sync.refresh>[0]) => sync.refresh(purchases) : null;
  const entitlements = createEntitlementsUsecase({
    repository: primaryEntitlements,
    ...(config.entitlementsCacheSize > 0 ? { cache: recordsCache } : {}),
    entitlementMap: app.catalog,
    clock,
    logger,
    refresh,
  });
  // With the cache on, its misses read the primary: a fill from a replica could be older
  // than an invalidation this process already received (docs/entitlements-cache.md). The
  // replica then serves the other read routes.
  const entitlementReads =
    readRouting && config.entitlementsCacheSize === 0
      ? createEntitlementsUsecase({
          repository: createEntitlementsRepository({ database: reads, slots: slots.reads }),
          primaryRepository: primaryEntitlements,
          entitlementMap: app.catalog,
          clock,
          logger,
          refresh,
        })
      : entitlements;

  // The plain handle: its rows change no purchase state (the link's transaction records them).
  const tokenUpdates = createTokenUpdates({ database: deps.database, api, clock, logger });
  const usersRepository = createUsersRepository({ db });
  const users = createUsersUsecase({
    db,
    users: usersRepository,
    // GET /users/:userId/transactions only reads.
    transactions: createTransactionsRepository({ db: reads.db }),
    entitlements,
    sync,
    environments,
    transferPolicy: config.transferPolicy,
    clock,
    tokenUpdates,
  });

  const secret = app.sharedSecret;
  const verifyReceipt =
    deps.verifyReceipt !== undefined
      ? deps.verifyReceipt
      : secret === null
        ? null
        : createVerifyReceiptClient({ sharedSecret: secret, ...(config.apple.verifyReceiptUrl ? { overrideUrl: config.apple.verifyReceiptUrl } : {}) });
  const catalog = app.catalog;
  const v1Ingest = createV1IngestUsecase({
    config,
    database,
    sync,
    verifyReceipt,
    productTypes: {
      productTypeOf: (productId: string) => catalog.productTypeOf(productId),
      onUnlistedProduct: warnOncePerProduct(
        logger,
        'a V1 purchase without an expiry names a product ENTITLEMENTS_FILE does not list (products.<id>.type): taken as a Non-Consumable',
      ),
    },
    clock,
    logger,
    events,
  });

  // Loaded on first use, once: the endpoint is rare and start-up should not depend on it.
  let roots: Promise<Uint8Array[]> | null = deps.receiptRootCertificates ? Promise.resolve(deps.receiptRootCertificates) : null;
  const receipts = createReceiptsUsecase({
    config,
    db,
    sync,
    clock,
    users: usersRepository,
    receiptRootCertificates: () => (roots ??= loadAppleIncRootCertificate().then((der) => [der])),
  });

  // The plain handle: a run's record changes no purchase state.
  const recoveryRuns = createRecoveryRunsRepository({ db: deps.database.db });
  const recovery =
    api === null
      ? null
      : createRecoveryUsecase({
          api,
          environments,
          // The webhook's own path: same verification, same exactly-once record, so a
          // notification recovered and later redelivered (or the reverse) is applied once.
          ingest: (signedPayload) => ingest.ingest({ signedPayload, source: 'recovery' }),
          clock,
          logger,
          database,
          events,
          intervalMs: config.recoveryIntervalMs,
          runs: recoveryRuns,
        });
  const eventJobs = createEventJobs({
    database: deps.database,
    recorder: eventRecorder,
    signal: feedSignal,
    clock,
    logger,
    retentionMs: config.eventsRetentionMs,
  });

  const recoveryJob =
    recovery === null || config.recoveryIntervalMs <= 0
      ? null
      : createRecoveryScheduler({ intervalMs: config.recoveryIntervalMs, run: (signal) => recovery.runOnce({ signal }) });

  const webhook = config.eventsWebhook;
  const eventDelivery =
    webhook === null
      ? null
      : createDeliveryWorker({
          // The plain handle: deliveries change no purchase state, so they record no events.
          db: deps.database.db,
          urls: webhook.urls,
          key: webhook.key,
          clock,
          logger,
          events,
          options: deps.eventDeliveryOptions ?? {},
          tracing,
        });
  if (eventDelivery) wakeDelivery = () => eventDelivery.wake('recorded');
  // Read-only views: the read handle (they write nothing, so they record no events).
  const supportViews = createSupportViewsRepository({ db: reads.db });
  const deliveries = createDeliveriesUsecase({ db: deps.database.db, urls: webhook?.urls ?? [], clock, wake: () => eventDelivery?.wake('redelivered') });

  const consumptionSender = createConsumptionSender({ db: deps.database.db, api, clock, logger });
  wakeConsumption = () => consumptionSender.wake();
  const consumption = createConsumptionUsecase({ db: deps.database.db, clock, wake: wakeConsumption });

  async function startEntitlementsCache(): Promise<void> {
    if (recordsCacheListener === null && config.entitlementsCacheSize > 0) {
      recordsCacheListener = await startRecordsCacheListener({ database: deps.database, cache: recordsCache, logger });
    }
  }

  return {
    app,
    database: handles.database,
    ingest,
    v1Ingest,
    sync,
    receipts,
    entitlements,
    entitlementReads,
    readRouting,
    users,
    appTransactions: createAppTransactionUsecase({ db, verifier, entitlements, clock }),
    recovery,
    recoveryRuns,
    recoveryJob,
    testNotifications: createTestNotificationsUsecase({ api, environments, verifier }),
    orders: createOrdersUsecase({ api, environments, verifier, db }),
    tokenUpdates,
    grants: createGrantsUsecase({ db, clock, logger }),
    verifyReceipt,
    eventDelivery,
    deliveries,
    analytics: createAnalyticsUsecase({
      repository: createAnalyticsRepository({ db: deps.database.db }),
      entitlementMap: app.catalog,
      clock,
    }),
    eventRecorder,
    feedSignal,
    feed: createFeedUsecase({ db: deps.database.db, signal: feedSignal }),
    notificationLog: createNotificationLogUsecase({ repository: supportViews }),
    customers: createCustomerUsecase({
      repository: supportViews,
      entitlements: entitlementReads,
      grantsOf: (userId) => grantsOfUser(reads.db, userId),
      appTransactionOf: (userId) => appTransactionOf(reads.db, userId),
    }),
    lookup: createLookupUsecase({ repository: createLookupRepository({ db: deps.database.db }) }),
    offers: createOffersUsecase({ offerKey: app.offerKey, bundleId: app.bundleId, clock }),
    eventJobs,
    extensions: createExtensionsUsecase({ api, db: deps.database.db, environments, clock, logger }),
    consumption,
    consumptionSender,
    entitlementsCache: { cache: recordsCache, start: startEntitlementsCache },
    async start() {
      // The same order buildApp started them in before there were several apps.
      await recoveryJob?.start();
      await eventJobs.start();
      await startEntitlementsCache();
      await tokenUpdates.start();
      await readRouting?.start();
      await consumptionSender.start();
    },
    async close() {
      await recordsCacheListener?.stop();
      await Promise.all([eventJobs.stop(), recoveryJob?.stop(), eventDelivery?.stop(), tokenUpdates.stop(), consumptionSender.stop(), readRouting?.stop()]);
      feedSignal.close();
      await Promise.all([entitlements.drain(), entitlementReads.drain()]);
    },
  };
}
