import { and, desc, eq, getTableColumns, gte, inArray, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { events, notifications, purchaseLinkEvents, purchaseLinks, subscriptions, transactions, users } from '../db/schema.js';
import type { NotificationLogCursor, StoredNotification } from './notification-log.model.js';

// The operator's read-only views (GET /admin/notifications, GET /admin/users/:userId): all of
// it the query builder's, every list bounded by a limit (docs/architecture.md, "Database access").

export interface NotificationLogFilter {
  type?: string | undefined;
  outcome?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  originalTransactionId?: string | undefined;
  userId?: string | undefined;
  /** Only these purchases (the customer view). */
  originalTransactionIds?: readonly string[] | undefined;
  after: NotificationLogCursor | null;
  limit: number;
}

export interface UserRow {
  appAccountToken: string;
  createdAt: Date;
}

export interface LinkRow {
  originalTransactionId: string;
  linkSource: string;
  linkedAt: Date;
}

export interface LinkEventRow {
  id: number;
  originalTransactionId: string;
  fromUserId: string | null;
  toUserId: string;
  reason: string;
  at: Date;
}

export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type TransactionRow = Omit<typeof transactions.$inferSelect, 'signedTransaction' | 'signedInNotification'>;

export interface EventRow {
  id: string;
  type: string;
  body: string;
  recordedAt: Date;
}

export interface SupportViewsRepository {
  notifications(filter: NotificationLogFilter): Promise<StoredNotification[]>;
  user(userId: string): Promise<UserRow | null>;
  /** Latest link first. */
  links(userId: string, limit: number): Promise<LinkRow[]>;
  /** Changes of owner of these purchases, and of any purchase this user gave up; newest first. */
  linkEvents(userId: string, originalTransactionIds: readonly string[], limit: number): Promise<LinkEventRow[]>;
  subscriptions(originalTransactionIds: readonly string[]): Promise<SubscriptionRow[]>;
  /** Newest purchase first. */
  transactions(originalTransactionIds: readonly string[], limit: number): Promise<TransactionRow[]>;
  /** Newest first. */
  events(userId: string, limit: number): Promise<EventRow[]>;
}

// receivedAt to the microsecond, as text: a JavaScript Date keeps milliseconds, and a page key
// cut to them would skip rows received within the same millisecond.
const receivedAtKey = sql<string>`to_char(${notifications.receivedAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export function createSupportViewsRepository({ db }: { db: Database }): SupportViewsRepository {
  return {
    async notifications(filter) {
      const conditions: (SQL | undefined)[] = [
        filter.type === undefined ? undefined : eq(notifications.notificationType, filter.type),
        filter.outcome === undefined ? undefined : eq(notifications.outcome, filter.outcome),
        filter.from === undefined ? undefined : gte(notifications.receivedAt, filter.from),
        filter.to === undefined ? undefined : lt(notifications.receivedAt, filter.to),
        filter.originalTransactionId === undefined ? undefined : eq(notifications.originalTransactionId, filter.originalTransactionId),
        filter.userId === undefined ? undefined : eq(purchaseLinks.userId, filter.userId),
        filter.originalTransactionIds === undefined ? undefined : inArray(notifications.originalTransactionId, [...filter.originalTransactionIds]),
        filter.after === null
          ? undefined
          : sql`(${notifications.receivedAt}, ${notifications.id}) < (${filter.after.receivedAt}::timestamptz, ${filter.after.id})`,
      ];
      return db
        .select({
          id: notifications.id,
          version: notifications.version,
          notificationType: notifications.notificationType,
          subtype: notifications.subtype,
          environment: notifications.environment,
          originalTransactionId: notifications.originalTransactionId,
          transactionId: notifications.transactionId,
          signedDate: notifications.signedDate,
          payload: notifications.payload,
          source: notifications.source,
          outcome: notifications.outcome,
          receivedAt: notifications.receivedAt,
          receivedAtKey,
          userId: purchaseLinks.userId,
        })
        .from(notifications)
        .leftJoin(purchaseLinks, eq(purchaseLinks.originalTransactionId, notifications.originalTransactionId))
        .where(and(...conditions))
        .orderBy(desc(notifications.receivedAt), desc(notifications.id))
        .limit(filter.limit);
    },

    async user(userId) {
      const [row] = await db.select({ appAccountToken: users.appAccountToken, createdAt: users.createdAt }).from(users).where(eq(users.userId, userId));
      return row ?? null;
    },

    async links(userId, limit) {
      return db
        .select({ originalTransactionId: purchaseLinks.originalTransactionId, linkSource: purchaseLinks.linkSource, linkedAt: purchaseLinks.linkedAt })
        .from(purchaseLinks)
        .where(eq(purchaseLinks.userId, userId))
        .orderBy(desc(purchaseLinks.linkedAt), desc(purchaseLinks.originalTransactionId))
        .limit(limit);
    },

    async linkEvents(userId, originalTransactionIds, limit) {
      const concerning = or(
        eq(purchaseLinkEvents.fromUserId, userId),
        eq(purchaseLinkEvents.toUserId, userId),
        originalTransactionIds.length === 0 ? undefined : inArray(purchaseLinkEvents.originalTransactionId, [...originalTransactionIds]),
      );
      return db.select().from(purchaseLinkEvents).where(concerning).orderBy(desc(purchaseLinkEvents.id)).limit(limit);
    },

    async subscriptions(originalTransactionIds) {
      if (originalTransactionIds.length === 0) return [];
      return db
        .select()
        .from(subscriptions)
        .where(inArray(subscriptions.originalTransactionId, [...originalTransactionIds]));
    },

    async transactions(originalTransactionIds, limit) {
      if (originalTransactionIds.length === 0) return [];
      // The signed JWS stays out: the view shows the decoded fields.
      const { signedTransaction: _jws, signedInNotification: _in, ...columns } = getTableColumns(transactions);
      return db
        .select(columns)
        .from(transactions)
        .where(inArray(transactions.originalTransactionId, [...originalTransactionIds]))
        .orderBy(desc(transactions.purchaseDate), desc(transactions.transactionId))
        .limit(limit);
    },

    async events(userId, limit) {
      return db
        .select({ id: events.id, type: events.type, body: events.body, recordedAt: events.recordedAt })
        .from(events)
        .where(eq(events.userId, userId))
        .orderBy(desc(events.seq))
        .limit(limit);
    },
  };
}
