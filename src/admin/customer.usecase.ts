import type { EntitlementView } from '../entitlements/entitlements.model.js';
import type { EntitlementsUsecase } from '../entitlements/entitlements.usecase.js';
import type { AppTransactionRow } from '../users/app-transactions.repository.js';
import type { GrantRow } from './grants.repository.js';
import { type NotificationView, notificationView } from './notification-log.model.js';
import type { LinkEventRow, SubscriptionRow, SupportViewsRepository, TransactionRow } from './support-views.repository.js';

// Everything about one customer for support and the console (GET /admin/users/:userId), from
// stored data only: no call to Apple, nothing written. Each list is bounded; `truncated` says
// which one was cut (the notification log pages further, by userId).

export const CUSTOMER_VIEW_LIMITS = { purchases: 500, transactions: 200, linkHistory: 100, notifications: 100, events: 100 } as const;

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export interface LinkChangeView {
  originalTransactionId: string;
  fromUserId: string | null;
  toUserId: string;
  reason: string;
  at: string;
}

export interface CustomerView {
  userId: string;
  appAccountToken: string | null;
  firstSeenAt: string | null;
  entitlements: EntitlementView[];
  purchases: ReturnType<typeof purchaseView>[];
  links: { originalTransactionId: string; linkSource: string; linkedAt: string; history: LinkChangeView[] }[];
  formerLinks: LinkChangeView[];
  /** Every grant, newest first, ended ones included (who gave and ended it: the admin key's id). */
  grants: GrantView[];
  /** The user's verified AppTransaction (catalog `appPurchase`), or null. */
  appTransaction: AppTransactionView | null;
  notifications: NotificationView[];
  events: { id: string; type: string; timestamp: string; data: Record<string, unknown> }[];
  truncated: { purchases: boolean; transactions: boolean; linkHistory: boolean; notifications: boolean; events: boolean };
}

export interface GrantView {
  grantId: string;
  entitlement: string;
  startsAt: string;
  expiresDate: string;
  reason: string;
  grantedBy: string;
  endedAt: string | null;
  endedBy: string | null;
  endReason: string | null;
}

export interface AppTransactionView {
  appTransactionId: string | null;
  environment: string;
  originalApplicationVersion: string | null;
  originalPurchaseDate: string | null;
  signedDate: string;
}

export interface CustomerUsecase {
  /** An unknown user gets 200 with empty sections, as GET /entitlements answers an empty list. */
  customer(userId: string): Promise<CustomerView>;
}

function grantView(row: GrantRow): GrantView {
  return {
    grantId: row.id,
    entitlement: row.entitlement,
    startsAt: row.startsAt.toISOString(),
    expiresDate: row.expiresDate.toISOString(),
    reason: row.reason,
    grantedBy: row.grantedBy,
    endedAt: iso(row.endedAt),
    endedBy: row.endedBy,
    endReason: row.endReason,
  };
}

function appTransactionView(row: AppTransactionRow): AppTransactionView {
  return {
    appTransactionId: row.appTransactionId,
    environment: row.environment,
    originalApplicationVersion: row.originalApplicationVersion,
    originalPurchaseDate: iso(row.originalPurchaseDate),
    signedDate: row.signedDate.toISOString(),
  };
}

function linkChange(row: LinkEventRow): LinkChangeView {
  return { originalTransactionId: row.originalTransactionId, fromUserId: row.fromUserId, toUserId: row.toUserId, reason: row.reason, at: row.at.toISOString() };
}

function transactionView(row: TransactionRow) {
  return {
    transactionId: row.transactionId,
    originalTransactionId: row.originalTransactionId,
    webOrderLineItemId: row.webOrderLineItemId,
    productId: row.productId,
    productType: row.productType,
    environment: row.environment,
    purchaseDate: row.purchaseDate.toISOString(),
    originalPurchaseDate: iso(row.originalPurchaseDate),
    expiresDate: iso(row.expiresDate),
    revocationDate: iso(row.revocationDate),
    revocationReason: row.revocationReason,
    revocationType: row.revocationType,
    revocationPercentage: row.revocationPercentage,
    ownershipType: row.ownershipType,
    isUpgraded: row.isUpgraded,
    offerType: row.offerType,
    offerIdentifier: row.offerIdentifier,
    offerDiscountType: row.offerDiscountType,
    appAccountToken: row.appAccountToken,
    storefront: row.storefront,
    transactionReason: row.transactionReason,
    price: row.price,
    currency: row.currency,
    signedDate: row.signedDate.toISOString(),
    source: row.source,
    updatedAt: row.updatedAt.toISOString(),
  };
}

function renewalView(row: SubscriptionRow) {
  return {
    appleStatus: row.appleStatus,
    statusSignedDate: iso(row.statusSignedDate),
    autoRenewProductId: row.autoRenewProductId,
    autoRenewStatus: row.autoRenewStatus,
    expirationIntent: row.expirationIntent,
    isInBillingRetryPeriod: row.isInBillingRetryPeriod,
    gracePeriodExpiresDate: iso(row.gracePeriodExpiresDate),
    renewalDate: iso(row.renewalDate),
    priceIncreaseStatus: row.priceIncreaseStatus,
    renewalPrice: row.renewalPrice,
    renewalCurrency: row.renewalCurrency,
    renewalOfferType: row.renewalOfferType,
    renewalOfferIdentifier: row.renewalOfferIdentifier,
    renewalSignedDate: iso(row.renewalSignedDate),
    renewalSource: row.renewalSource,
    updatedAt: row.updatedAt.toISOString(),
  };
}

function purchaseView(originalTransactionId: string, transactions: TransactionRow[], subscription: SubscriptionRow | undefined) {
  const newest = transactions[0];
  return {
    originalTransactionId,
    productId: newest?.productId ?? subscription?.productId ?? null,
    productType: newest?.productType ?? null,
    environment: newest?.environment ?? subscription?.environment ?? null,
    renewal: subscription === undefined ? null : renewalView(subscription),
    transactions: transactions.map(transactionView),
  };
}

function eventView(row: { id: string; type: string; body: string; recordedAt: Date }) {
  let data: Record<string, unknown> = {};
  try {
    const envelope = JSON.parse(row.body) as { data?: unknown };
    if (typeof envelope.data === 'object' && envelope.data !== null) data = envelope.data as Record<string, unknown>;
  } catch {
    // The body is the service's own JSON; an unreadable one shows as empty data.
  }
  return { id: row.id, type: row.type, timestamp: row.recordedAt.toISOString(), data };
}

export interface CustomerUsecaseDeps {
  repository: SupportViewsRepository;
  entitlements: EntitlementsUsecase;
  grantsOf: (userId: string) => Promise<GrantRow[]>;
  appTransactionOf: (userId: string) => Promise<AppTransactionRow | undefined>;
}

export function createCustomerUsecase(deps: CustomerUsecaseDeps): CustomerUsecase {
  const { repository } = deps;
  const limits = CUSTOMER_VIEW_LIMITS;
  return {
    async customer(userId) {
      const [user, allLinks, answer, events, grants, appTransaction] = await Promise.all([
        repository.user(userId),
        // A consumable is a purchase of its own: a big spender can hold thousands.
        repository.links(userId, limits.purchases + 1),
        // Stored data only: support reads what the service knows; ?refresh on GET /entitlements asks Apple.
        deps.entitlements.entitlementsOf(userId, { refresh: 'never' }),
        repository.events(userId, limits.events + 1),
        deps.grantsOf(userId),
        deps.appTransactionOf(userId),
      ]);
      const links = allLinks.slice(0, limits.purchases);
      const ids = links.map((link) => link.originalTransactionId);
      const [subscriptions, transactions, linkEvents, notifications] = await Promise.all([
        repository.subscriptions(ids),
        repository.transactions(ids, limits.transactions + 1),
        repository.linkEvents(userId, ids, limits.linkHistory + 1),
        ids.length === 0 ? Promise.resolve([]) : repository.notifications({ originalTransactionIds: ids, after: null, limit: limits.notifications + 1 }),
      ]);

      const shownTransactions = transactions.slice(0, limits.transactions);
      const shownLinkEvents = linkEvents.slice(0, limits.linkHistory);
      const current = new Set(ids);
      const purchases = ids.map((id) =>
        purchaseView(
          id,
          shownTransactions.filter((row) => row.originalTransactionId === id),
          subscriptions.find((row) => row.originalTransactionId === id),
        ),
      );
      return {
        userId,
        appAccountToken: user?.appAccountToken ?? null,
        firstSeenAt: iso(user?.createdAt ?? null),
        entitlements: answer.entitlements,
        purchases,
        links: links.map((link) => ({
          originalTransactionId: link.originalTransactionId,
          linkSource: link.linkSource,
          linkedAt: link.linkedAt.toISOString(),
          history: shownLinkEvents.filter((row) => row.originalTransactionId === link.originalTransactionId).map(linkChange),
        })),
        formerLinks: shownLinkEvents.filter((row) => row.fromUserId === userId && !current.has(row.originalTransactionId)).map(linkChange),
        grants: grants.map(grantView),
        appTransaction: appTransaction === undefined ? null : appTransactionView(appTransaction),
        notifications: notifications.slice(0, limits.notifications).map((row) => notificationView(row, { raw: false })),
        events: events.slice(0, limits.events).map(eventView),
        truncated: {
          purchases: allLinks.length > limits.purchases,
          transactions: transactions.length > limits.transactions,
          linkHistory: linkEvents.length > limits.linkHistory,
          notifications: notifications.length > limits.notifications,
          events: events.length > limits.events,
        },
      };
    },
  };
}
